#include "core/config_settings.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "mq/error.hpp"

namespace mq::core {
namespace {

[[noreturn]] void bad_value(std::string_view what, std::string_view text, std::string_view expected) {
  throw Error(ErrorCode::invalid_argument,
              fmt::format("config '{}': bad value '{}' (expected {})", what, text, expected));
}

std::pair<double, std::string_view> number_and_unit(std::string_view text, std::string_view what,
                                                    std::string_view expected) {
  double number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end == text.data() || !std::isfinite(number) || number < 0) {
    bad_value(what, text, expected);
  }
  return {number, text.substr(static_cast<std::size_t>(end - text.data()))};
}

template <typename Enum>
Enum parse_enum(std::string_view text, std::string_view what,
                const std::vector<std::pair<std::string_view, Enum>>& choices) {
  std::string names;
  for (const auto& [name, value] : choices) {
    if (name == text) return value;
    names += names.empty() ? std::string(name) : " | " + std::string(name);
  }
  bad_value(what, text, names);
}

template <typename Enum>
std::string show_enum(Enum value, const std::vector<std::pair<std::string_view, Enum>>& choices) {
  for (const auto& [name, choice] : choices) {
    if (choice == value) return std::string(name);
  }
  return "?";
}

const std::vector<std::pair<std::string_view, Acks>> acks_names = {
    {"none", Acks::none}, {"leader", Acks::leader}, {"all", Acks::all}};
const std::vector<std::pair<std::string_view, StartPosition>> start_names = {
    {"earliest", StartPosition::earliest}, {"latest", StartPosition::latest}};
const std::vector<std::pair<std::string_view, FsyncPolicy>> fsync_names = {
    {"always", FsyncPolicy::always}, {"interval", FsyncPolicy::interval}, {"never", FsyncPolicy::never}};
const std::vector<std::pair<std::string_view, LogLevel>> level_names = {
    {"debug", LogLevel::debug}, {"info", LogLevel::info}, {"warning", LogLevel::warning},
    {"error", LogLevel::error}, {"off", LogLevel::off}};

std::string show_duration(std::chrono::milliseconds value) { return fmt::format("{}ms", value.count()); }

// Builders for the table rows: a member pointer and the rule for its type.
Setting text_setting(std::string_view path, std::string Config::*member) {
  return {path, [member](Config& c, std::string_view text) { c.*member = std::string(text); },
          [member](const Config& c) { return c.*member; }};
}

template <typename Get>
Setting int_setting(std::string_view path, Get get, long long min, long long max) {
  return {path,
          [=](Config& c, std::string_view text) {
            get(c) = static_cast<std::remove_cvref_t<decltype(get(c))>>(parse_integer(text, path, min, max));
          },
          [=](const Config& c) { return fmt::format("{}", get(c)); }};
}

template <typename Get>
Setting bytes_setting(std::string_view path, Get get) {
  return {path,
          [=](Config& c, std::string_view text) {
            get(c) = static_cast<std::remove_cvref_t<decltype(get(c))>>(parse_bytes(text, path));
          },
          [=](const Config& c) { return fmt::format("{}", get(c)); }};
}

template <typename Get>
Setting duration_setting(std::string_view path, Get get) {
  return {path, [=](Config& c, std::string_view text) { get(c) = parse_duration(text, path); },
          [=](const Config& c) { return show_duration(get(c)); }};
}

template <typename Get>
Setting bool_setting(std::string_view path, Get get) {
  return {path, [=](Config& c, std::string_view text) { get(c) = parse_bool(text, path); },
          [=](const Config& c) { return std::string(get(c) ? "true" : "false"); }};
}

template <typename Get>
Setting fraction_setting(std::string_view path, Get get, double max) {
  return {path,
          [=](Config& c, std::string_view text) {
            const auto [number, unit] = number_and_unit(text, path, "a number");
            if (!unit.empty() || number > max) bad_value(path, text, fmt::format("a number from 0 to {}", max));
            get(c) = number;
          },
          [=](const Config& c) { return fmt::format("{}", get(c)); }};
}

template <typename Enum, typename Get>
Setting enum_setting(std::string_view path, Get get,
                     const std::vector<std::pair<std::string_view, Enum>>& choices) {
  return {path, [=](Config& c, std::string_view text) { get(c) = parse_enum(text, path, choices); },
          [=](const Config& c) { return show_enum(get(c), choices); }};
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text, std::string_view what) {
  constexpr std::string_view expected = "milliseconds, or a number with ms, s, m, h or d";
  const auto [number, unit] = number_and_unit(text, what, expected);
  double millis = 0;
  if (unit.empty() || unit == "ms") millis = number;
  else if (unit == "s") millis = number * 1e3;
  else if (unit == "m") millis = number * 60e3;
  else if (unit == "h") millis = number * 3600e3;
  else if (unit == "d") millis = number * 86400e3;
  else bad_value(what, text, expected);
  if (millis > 1e15) bad_value(what, text, "a duration under 30,000 years");
  return std::chrono::milliseconds(static_cast<long long>(millis));
}

long long parse_integer(std::string_view text, std::string_view what, long long min, long long max) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    bad_value(what, text, fmt::format("an integer from {} to {}", min, max));
  }
  return value;
}

std::uint64_t parse_bytes(std::string_view text, std::string_view what) {
  constexpr std::string_view expected = "bytes, or a number with KiB, MiB or GiB";
  const auto [number, unit] = number_and_unit(text, what, expected);
  double bytes = 0;
  if (unit.empty() || unit == "B") bytes = number;
  else if (unit == "KiB") bytes = number * 1024;
  else if (unit == "MiB") bytes = number * 1024 * 1024;
  else if (unit == "GiB") bytes = number * 1024 * 1024 * 1024;
  else bad_value(what, text, expected);
  if (bytes > 1e18) bad_value(what, text, "a size under 1 EiB");
  return static_cast<std::uint64_t>(bytes);
}

bool parse_bool(std::string_view text, std::string_view what) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  bad_value(what, text, "true or false");
}

const std::vector<Setting>& config_settings() {
  static const std::vector<Setting> settings = {
      text_setting("url", &Config::url),
      text_setting("client_id", &Config::client_id),
      int_setting("default_partitions", [](auto& c) -> auto& { return c.default_partitions; }, 1, 10000),
      bool_setting("auto_create_topics", [](auto& c) -> auto& { return c.auto_create_topics; }),
      duration_setting("connect_timeout", [](auto& c) -> auto& { return c.connect_timeout; }),
      bool_setting("core_delay_scheduler", [](auto& c) -> auto& { return c.core_delay_scheduler; }),
      enum_setting("log_level", [](auto& c) -> auto& { return c.log_level; }, level_names),
      enum_setting("producer.acks", [](auto& c) -> auto& { return c.producer.acks; }, acks_names),
      duration_setting("producer.linger", [](auto& c) -> auto& { return c.producer.linger; }),
      int_setting("producer.batch_max_messages", [](auto& c) -> auto& { return c.producer.batch_max_messages; }, 1,
                  1'000'000),
      bytes_setting("producer.max_message_bytes", [](auto& c) -> auto& { return c.producer.max_message_bytes; }),
      bytes_setting("producer.max_buffered_bytes", [](auto& c) -> auto& { return c.producer.max_buffered_bytes; }),
      duration_setting("producer.send_timeout", [](auto& c) -> auto& { return c.producer.send_timeout; }),
      duration_setting("producer.close_timeout", [](auto& c) -> auto& { return c.producer.close_timeout; }),
      int_setting("consumer.workers", [](auto& c) -> auto& { return c.consumer.workers; }, 1, 1024),
      int_setting("consumer.max_in_flight", [](auto& c) -> auto& { return c.consumer.max_in_flight; }, 1,
                  1'000'000),
      enum_setting("consumer.start", [](auto& c) -> auto& { return c.consumer.start; }, start_names),
      bool_setting("consumer.ordered_by_key", [](auto& c) -> auto& { return c.consumer.ordered_by_key; }),
      bool_setting("consumer.dead_letter", [](auto& c) -> auto& { return c.consumer.dead_letter; }),
      bool_setting("consumer.dedup.enabled", [](auto& c) -> auto& { return c.consumer.dedup.enabled; }),
      duration_setting("consumer.dedup.window", [](auto& c) -> auto& { return c.consumer.dedup.window; }),
      duration_setting("consumer.dedup.lease", [](auto& c) -> auto& { return c.consumer.dedup.lease; }),
      duration_setting("consumer.stop_timeout", [](auto& c) -> auto& { return c.consumer.stop_timeout; }),
      duration_setting("consumer.poll_interval", [](auto& c) -> auto& { return c.consumer.poll_interval; }),
      int_setting("consumer.retry.max_attempts", [](auto& c) -> auto& { return c.consumer.retry.max_attempts; }, 1,
                  1000),
      duration_setting("consumer.retry.initial_backoff",
                       [](auto& c) -> auto& { return c.consumer.retry.initial_backoff; }),
      fraction_setting("consumer.retry.multiplier", [](auto& c) -> auto& { return c.consumer.retry.multiplier; },
                       100),
      duration_setting("consumer.retry.max_backoff", [](auto& c) -> auto& { return c.consumer.retry.max_backoff; }),
      fraction_setting("consumer.retry.jitter", [](auto& c) -> auto& { return c.consumer.retry.jitter; }, 1),
      enum_setting("embedded.fsync", [](auto& c) -> auto& { return c.embedded.fsync; }, fsync_names),
      duration_setting("embedded.fsync_interval", [](auto& c) -> auto& { return c.embedded.fsync_interval; }),
      bytes_setting("embedded.segment_bytes", [](auto& c) -> auto& { return c.embedded.segment_bytes; }),
      duration_setting("embedded.retention", [](auto& c) -> auto& { return c.embedded.retention; }),
      bytes_setting("embedded.retention_bytes", [](auto& c) -> auto& { return c.embedded.retention_bytes; }),
  };
  return settings;
}

}  // namespace mq::core
