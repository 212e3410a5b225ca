// amqp://[user[:password]@]host[:port][,host[:port]...][/vhost][?option=value&...]
// The grammar and the options are in README.md.
#include <fmt/format.h>

#include <charconv>

#include "engines/rabbitmq/connection.hpp"

namespace mq::engines::rabbitmq {
namespace {

int positive_int(const core::EngineUrl& url, const std::string& name, const std::string& value, int max) {
  int result = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (error != std::errc() || end != value.data() + value.size() || result < 0 || result > max) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("{}: option '{}' must be an integer from 0 to {}, not '{}'", url.redacted, name, max, value));
  }
  return result;
}

}  // namespace

Settings settings_from(const core::EngineUrl& url, const Config& config) {
  if (url.scheme == "amqps") {
    throw Error(ErrorCode::not_supported, fmt::format("{}: amqps:// (TLS) is not built into this engine yet",
                                                      url.redacted));
  }
  Settings settings;
  settings.hosts = url.hosts;
  // The vhost is the path ("/" when empty; a vhost named "/x" is written %2Fx).
  settings.vhost = url.path.empty() ? "/" : url.path;
  if (!url.user.empty()) settings.user = url.user;
  if (!url.user.empty() || !url.password.empty()) settings.password = url.password;
  settings.redacted = url.redacted;
  settings.connect_timeout = config.connect_timeout;
  settings.default_partitions = config.default_partitions > 0 ? config.default_partitions : 4;
  settings.auto_create_topics = config.auto_create_topics;
  for (const auto& [name, value] : url.query) {
    if (name == "heartbeat") {
      settings.heartbeat_seconds = positive_int(url, name, value, 3600);
    } else if (name == "prefetch") {
      settings.prefetch = std::max(1, positive_int(url, name, value, 65535));
    } else if (name == "max_priority") {
      settings.max_priority = positive_int(url, name, value, 255);
    } else if (name == "exchange" && !value.empty()) {
      settings.exchange = value;
    } else {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("{}: unknown amqp URL option '{}' (known: heartbeat, prefetch, max_priority, exchange)", url.redacted,
                              name));
    }
  }
  return settings;
}

}  // namespace mq::engines::rabbitmq
