// Shared pieces of mqctl: global options, connecting, exit codes, output helpers, and
// the registration function each verb file provides.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <mq/mq.hpp>

namespace mqctl {

using json = nlohmann::ordered_json;

// Options that apply to every verb, filled by CLI11 before a verb runs.
struct Globals {
  std::string url;          // empty: the config's url (MQ_URL, the file, or the default)
  std::string config_path;  // empty: defaults + MQ_* variables only
  bool json = false;        // --json on any verb: machine-readable output on stdout
};

// What the chosen verb does once the command line parsed; returns the exit code.
// Verbs run after parsing (not inside CLI11 callbacks) so that mq::Error reaches main
// and maps to its exit code, distinct from usage errors.
using Action = std::function<int()>;

// Exit codes, documented in `mqctl --help` and README.md. mq::ErrorCode maps to them in
// exit_codes.cpp only.
enum ExitCode : int {
  exit_ok = 0,
  exit_usage = 1,        // bad command line
  exit_not_found = 2,    // topic, group, file or dead letter does not exist
  exit_connection = 3,   // engine unreachable, or a deadline passed
  exit_invalid = 4,      // invalid input (names, sizes, values, file contents)
  exit_exists = 5,       // create of something that exists
  exit_unsupported = 6,  // the engine or build lacks the feature
  exit_failure = 7,      // anything else (I/O, corruption, internal)
};
int exit_code_for(mq::ErrorCode code);
// The text for --help's footer.
std::string exit_codes_help();

// The effective configuration: Config::load(--config), then --url over it.
mq::Config load_config(const Globals& globals);
mq::Client connect(const Globals& globals);

// "250ms", "2s", "5m" or plain milliseconds, parsed by mq's own config parser so the
// CLI accepts exactly the durations a config file does. Throws CLI::ValidationError.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option);

// Adds --json to a verb (it sets Globals::json).
void add_json_flag(CLI::App& command, Globals& globals);

// A text table: columns padded to their widest cell, numbers right-aligned.
class Table {
 public:
  // A heading starting with '>' marks a right-aligned column (the '>' is not printed).
  explicit Table(std::vector<std::string> headings);
  void add(std::vector<std::string> row);
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headings_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// JSON text; message bytes that are not UTF-8 become U+FFFD instead of throwing.
std::string dump_json(const json& value, int indent = -1);
// Prints `value` as indented JSON and a newline.
void print_json(const json& value);
// The verb's result: `data` with --json, else `table`. Returns exit_ok.
int emit(const Globals& globals, const json& data, const Table& table);
// Milliseconds since the epoch, and ISO-8601 UTC text, for times in output.
std::int64_t epoch_ms(mq::TimePoint time);
std::string iso_time(mq::TimePoint time);

// JSON shapes shared by the CLI and the console, so both speak the same API.
json to_json(const mq::TopicInfo& topic);
json to_json(const mq::GroupInfo& group);
json to_json(const mq::DeadLetter& letter);
json to_json(const mq::Message& message);
json to_json(const mq::Receipt& receipt);

void add_topics_commands(CLI::App& app, Globals& globals, Action& action);
void add_groups_commands(CLI::App& app, Globals& globals, Action& action);
void add_produce_command(CLI::App& app, Globals& globals, Action& action);
void add_consume_commands(CLI::App& app, Globals& globals, Action& action);
void add_dlq_commands(CLI::App& app, Globals& globals, Action& action);
void add_bench_command(CLI::App& app, Globals& globals, Action& action);
void add_serve_command(CLI::App& app, Globals& globals, Action& action);

}  // namespace mqctl
