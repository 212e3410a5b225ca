// redis://[user:password@]host[:port][/db] and the redis.* engine properties; the
// grammar is in README.md.
#include <fmt/format.h>

#include <charconv>

#include "engines/redis/engine.hpp"

namespace mq::engines::redis {
namespace {

// The hiredis version this build links; TLS (rediss://) needs hiredis >= 1.0.0 built
// with libhiredis_ssl, which Debian 12's 0.14.1 does not have.
constexpr std::string_view linked_hiredis = "0.14.1";

[[noreturn]] void bad(const std::string& redacted, const std::string& problem) {
  throw Error(ErrorCode::invalid_argument, fmt::format("{}: {}", redacted, problem));
}

long long number(const std::string& redacted, const std::string& name, const std::string& text) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    bad(redacted, fmt::format("'{}' must be a non-negative integer, not '{}'", name, text));
  }
  return value;
}

}  // namespace

Settings settings_from(const core::EngineUrl& url, const Config& config) {
  if (url.scheme == "rediss") {
    throw Error(ErrorCode::not_supported,
                fmt::format("{}: rediss:// (TLS) needs hiredis 1.0.0 or later with libhiredis_ssl; this build links "
                            "hiredis {} (Debian 12), which has no TLS. Use redis:// over a trusted network or a TLS "
                            "tunnel (stunnel, spiped)",
                            url.redacted, linked_hiredis));
  }
  Settings settings;
  ServerAddress& address = settings.address;
  if (url.hosts.size() != 1) bad(url.redacted, "redis:// takes exactly one host[:port]");
  address.host = url.hosts.front().first;
  address.port = url.hosts.front().second > 0 ? url.hosts.front().second : 6379;
  address.user = url.user;
  address.password = url.password;
  address.redacted = url.redacted;
  address.connect_timeout = config.connect_timeout;
  if (!url.path.empty()) address.db = static_cast<int>(number(url.redacted, "database", url.path));
  if (!url.query.empty()) {
    bad(url.redacted, fmt::format("unknown URL option '{}' (settings go in engine_properties as redis.*)",
                                  url.query.begin()->first));
  }
  settings.default_partitions = config.default_partitions > 0 ? config.default_partitions : 4;
  settings.auto_create_topics = config.auto_create_topics;
  const std::string prefix = "redis.";
  for (const auto& [key, value] : config.engine_properties) {
    if (!key.starts_with(prefix)) continue;  // another engine's property
    const std::string name = key.substr(prefix.size());
    if (name == "user") {
      address.user = value;
    } else if (name == "password") {
      address.password = value;
    } else if (name == "pool_size") {
      settings.pool_size = static_cast<std::size_t>(std::max<long long>(number(url.redacted, key, value), 1));
    } else if (name == "prefetch") {
      settings.prefetch = static_cast<std::size_t>(std::max<long long>(number(url.redacted, key, value), 1));
    } else if (name == "maxlen") {
      settings.maxlen = static_cast<std::uint64_t>(number(url.redacted, key, value));
    } else if (name == "member_ttl") {
      settings.member_ttl = milliseconds(std::max<long long>(number(url.redacted, key, value), 100));
      settings.heartbeat = std::max(settings.member_ttl / 5, milliseconds(20));
    } else if (name == "visibility_timeout") {
      settings.visibility_timeout = milliseconds(number(url.redacted, key, value));
    } else if (name == "command_timeout") {
      address.command_timeout = milliseconds(std::max<long long>(number(url.redacted, key, value), 1));
    } else if (name == "dedup_layout" && (value == "group" || value == "seed")) {
      settings.dedup_layout = value == "seed" ? DedupLayout::seed : DedupLayout::group;
    } else if (name == "retry_keep") {
      settings.retry_keep = milliseconds(std::max<long long>(number(url.redacted, key, value), 1));
    } else if (name == "dedup_layout") {
      bad(url.redacted, fmt::format("'{}' must be group or seed, not '{}'", key, value));
    } else if (name == "frame_version") {
      if (value != "1" && value != "2") bad(url.redacted, fmt::format("'{}' must be 1 or 2, not '{}'", key, value));
      settings.frame_version = value == "1" ? 1 : 2;
    } else {
      bad(url.redacted, fmt::format("unknown engine property '{}' (known: redis.user, redis.password, "
                                    "redis.pool_size, redis.prefetch, redis.maxlen, redis.member_ttl, redis.visibility_timeout, "
                                    "redis.command_timeout, redis.dedup_layout, redis.retry_keep, redis.frame_version)", key));
    }
  }
  return settings;
}

}  // namespace mq::engines::redis
