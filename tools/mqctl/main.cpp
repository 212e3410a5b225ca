// mqctl: the command-line tool for mq topics, producing and consuming.
//
// Exit codes: 0 success, 1 an mq::Error (printed as "mqctl: <what>"), 2 a usage error.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common.hpp"

namespace mqctl {

mq::Config load_config(const Globals& globals) {
  mq::Config config = mq::Config::load(globals.config_path);
  if (!globals.url.empty()) config.url = globals.url;
  return config;
}

mq::Client connect(const Globals& globals) {
  mq::Config config = load_config(globals);
  const std::string url = config.url;
  return mq::Client(url, std::move(config));
}

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option) {
  // Reuse the config parser through a scratch Config rather than a second grammar.
  mq::Config scratch = mq::Config::defaults("development");
  try {
    scratch.set("consumer.stop_timeout", text);
  } catch (const mq::Error&) {
    throw CLI::ValidationError(option, "'" + text + "' is not a duration (examples: 500ms, 5s, 2m)");
  }
  return scratch.consumer.stop_timeout;
}

}  // namespace mqctl

int main(int argc, char** argv) {
  CLI::App app{"mqctl: manage mq topics, produce and consume messages"};
  app.require_subcommand(1);
  mqctl::Globals globals;
  // The default shown in --help; the real default comes from Config::load (MQ_URL).
  app.add_option("--url", globals.url,
                 "Engine URL (default: $MQ_URL, the config file's url, or embedded://./mq-data)");
  app.add_option("--config", globals.config_path, "JSON config file (mq::Config::load)")->check(CLI::ExistingFile);

  mqctl::Action action;
  mqctl::add_topics_commands(app, globals, action);
  mqctl::add_produce_command(app, globals, action);
  mqctl::add_consume_command(app, globals, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version are "errors" with exit code 0; everything else is usage.
    return app.exit(error) == 0 ? 0 : 2;
  }
  try {
    return action ? action() : 2;
  } catch (const CLI::ValidationError& error) {
    // Option values checked after parsing (durations) are usage errors too.
    std::cerr << "mqctl: " << error.what() << '\n';
    return 2;
  } catch (const mq::Error& error) {
    // mq::Error messages never contain credentials (URLs are redacted by mq).
    std::cerr << "mqctl: " << error.what() << '\n';
    return 1;
  }
}
