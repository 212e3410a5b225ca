// mqctl: the command-line tool for mq: topics, groups, producing, consuming, dead
// letters, a load generator and the HTTP console. Public API only.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mqctl: manage mq topics and groups, produce and consume messages, serve the console"};
  app.require_subcommand(1);
  app.footer(mqctl::exit_codes_help());
  mqctl::Globals globals;
  // The default shown in --help; the real default comes from Config::load (MQ_URL).
  app.add_option("--url", globals.url,
                 "Engine URL (default: $MQ_URL, the config file's url, or embedded://./mq-data)");
  app.add_option("--config", globals.config_path, "JSON config file (mq::Config::load)")->check(CLI::ExistingFile);

  mqctl::Action action;
  mqctl::add_topics_commands(app, globals, action);
  mqctl::add_groups_commands(app, globals, action);
  mqctl::add_produce_command(app, globals, action);
  mqctl::add_consume_commands(app, globals, action);
  mqctl::add_dlq_commands(app, globals, action);
  mqctl::add_bench_command(app, globals, action);
  mqctl::add_serve_command(app, globals, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version are "errors" with exit code 0; everything else is usage.
    return app.exit(error) == 0 ? mqctl::exit_ok : mqctl::exit_usage;
  }
  try {
    return action ? action() : mqctl::exit_usage;
  } catch (const CLI::ValidationError& error) {
    // Option values checked after parsing (durations) are usage errors too.
    std::cerr << "mqctl: " << error.what() << '\n';
    return mqctl::exit_usage;
  } catch (const mq::Error& error) {
    // mq::Error messages never contain credentials (URLs are redacted by mq).
    std::cerr << "mqctl: " << error.what() << '\n';
    return mqctl::exit_code_for(error.code());
  }
}
