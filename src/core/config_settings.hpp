// The table of every Config setting: its dotted path, how to parse it from text and how
// to show it. JSON files, MQ_* variables and mqctl's --set all go through it, so a
// setting is added in one place and every source accepts it the same way.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mq/config.hpp"

namespace mq::core {

struct Setting {
  std::string_view path;  // "consumer.workers"
  std::function<void(Config&, std::string_view text)> parse;  // throws invalid_argument
  std::function<std::string(const Config&)> show;
};

const std::vector<Setting>& config_settings();

// Parsers shared with the CLI. Each throws invalid_argument naming `what`.
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view what);
long long parse_integer(std::string_view text, std::string_view what, long long min, long long max);
std::uint64_t parse_bytes(std::string_view text, std::string_view what);  // 1048576, 64KiB, 1MiB
bool parse_bool(std::string_view text, std::string_view what);

}  // namespace mq::core
