// Config: everything a Client needs, with defaults per environment.
//
//   auto config = mq::Config::defaults("production");   // or "development"
//   config = mq::Config::load("mq.json");               // file, then MQ_* variables
//
// JSON keys are the field names below ("producer": {"linger": "5ms"}); durations are
// integers in milliseconds or strings with a unit (250ms, 2s, 5m, 1h, 7d). The same
// settings can be overridden by environment variables: MQ_ + the path in upper case
// with '.' as '_' (MQ_URL, MQ_PRODUCER_ACKS, MQ_CONSUMER_WORKERS). An unknown key or a
// bad value is an mq::Error(invalid_argument) naming the key. Value type.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "mq/log.hpp"
#include "mq/options.hpp"

namespace mq {

struct Config {
  // Engine URL; the scheme picks the engine (embedded, memory, redis, amqp, kafka, nats).
  std::string url = "embedded://./mq-data";
  std::string environment = "development";
  std::string client_id = "mq";
  int default_partitions = 4;      // for topics created implicitly or without a count
  bool auto_create_topics = true;  // a send to an unknown topic creates it
  milliseconds connect_timeout{5'000};
  // Delayed sends go through core's durable scheduler (the mq.delay topic) even when the
  // engine stores delays itself. Engines without native delay always use it.
  bool core_delay_scheduler = false;
  LogLevel log_level = LogLevel::warning;
  ProducerOptions producer;
  ConsumerOptions consumer;  // defaults for new consumers (group and topics unused)
  EmbeddedOptions embedded;
  // Passed to the engine's library unchanged, keyed with the engine's prefix
  // ("kafka.sasl.mechanism", "redis.password"). Values are never logged.
  std::map<std::string, std::string> engine_properties;

  // "development": acks leader, 3 attempts, linger 5 ms, small batches, start latest.
  // "production": acks all, 10 attempts, larger batches, start earliest, fsync always.
  // Anything else is invalid_argument.
  static Config defaults(std::string_view environment);

  // Settings from a JSON text or file over `base`.
  static Config from_json(std::string_view json_text, const Config& base);
  static Config from_json_file(const std::string& path, const Config& base);
  // Defaults for $MQ_ENV (or development), then the file (if not empty), then MQ_*.
  static Config load(const std::string& path = "");

  // Applies MQ_* variables from the process environment.
  void apply_environment();
  // Applies one setting by its dotted path ("consumer.workers", "3"). The same parser
  // serves JSON, environment and command-line overrides.
  void set(std::string_view path, std::string_view value);

  // The settings as JSON with credentials redacted (safe to print).
  std::string to_json() const;
};

// The engine URL with any password, token or credential-bearing property replaced by
// "***" ("redis://app:***@host:6379").
std::string redact_url(std::string_view url);

}  // namespace mq
