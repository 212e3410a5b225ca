// Shared pieces of mqctl: global options, connecting, and the verb registration
// functions each verb file provides.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <string>

#include <mq/mq.hpp>

namespace mqctl {

// Options that apply to every verb, filled by CLI11 before a verb runs.
struct Globals {
  std::string url;          // empty: the config's url (MQ_URL, the file, or the default)
  std::string config_path;  // empty: defaults + MQ_* variables only
};

// What the chosen verb does once the command line parsed; returns the exit code.
// Verbs run after parsing (not inside CLI11 callbacks) so that mq::Error reaches main
// and maps to exit code 1, distinct from usage errors (2).
using Action = std::function<int()>;

// The effective configuration: Config::load(--config), then --url over it.
mq::Config load_config(const Globals& globals);
mq::Client connect(const Globals& globals);

// "250ms", "2s", "5m" or plain milliseconds, parsed by mq's own config parser so the
// CLI accepts exactly the durations a config file does. Throws CLI::ValidationError.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option);

void add_topics_commands(CLI::App& app, const Globals& globals, Action& action);
void add_produce_command(CLI::App& app, const Globals& globals, Action& action);
void add_consume_command(CLI::App& app, const Globals& globals, Action& action);

}  // namespace mqctl
