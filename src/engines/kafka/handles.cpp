// librdkafka handles: configuration, logging, metadata.
#include <fmt/format.h>

#include <cstring>

#include "core/logging.hpp"
#include "engines/kafka/engine.hpp"

namespace mq::engines::kafka {
namespace {

// As core's Config::to_json: a property whose name suggests a credential never has its
// value shown (librdkafka's error text for a bad value quotes the value).
bool is_secret(std::string_view name) {
  for (std::string_view word : {"password", "secret", "token", "key", "sasl", "credential", "jaas"}) {
    if (name.find(word) != std::string_view::npos) return true;
  }
  return false;
}

// syslog levels (librdkafka) to mq's. librdkafka never logs property values.
void log_line(const rd_kafka_t*, int level, const char* facility, const char* text) {
  // CONFWARN: one property list serves every handle, so a producer is told of consumer
  // properties (session.timeout.ms, ...) that do not apply to it: expected, not a warning.
  const bool expected = std::strcmp(facility, "CONFWARN") == 0;
  const LogLevel mapped = expected ? LogLevel::debug
                          : level <= 3 ? LogLevel::error : level == 4 ? LogLevel::warning
                          : level <= 6 ? LogLevel::info : LogLevel::debug;
  core::log(mapped, "kafka: {}: {}", facility, text);
}

}  // namespace

Handle make_handle(rd_kafka_type_t type, const Properties& properties,
                   const std::function<void(rd_kafka_conf_t*)>& configure, const std::string& redacted_url) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char reason[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), reason, sizeof reason) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw Error(ErrorCode::invalid_argument,
                  is_secret(name) ? fmt::format("{}: invalid value for librdkafka property '{}'", redacted_url, name)
                                  : fmt::format("{}: librdkafka property '{}': {}", redacted_url, name, reason));
    }
  }
  rd_kafka_conf_set_log_cb(conf, log_line);
  if (configure) configure(conf);
  rd_kafka_t* handle = rd_kafka_new(type, conf, reason, sizeof reason);
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);  // on failure the conf is still ours
    throw Error(ErrorCode::invalid_argument, fmt::format("{}: librdkafka: {}", redacted_url, reason));
  }
  return Handle(handle);
}

std::map<std::string, int> cluster_topics(rd_kafka_t* handle, milliseconds timeout) {
  const rd_kafka_metadata_t* metadata = nullptr;
  const auto error = rd_kafka_metadata(handle, 1, nullptr, &metadata, static_cast<int>(timeout.count()));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) throw Error(ErrorCode::connection, fmt::format("metadata: {}", rd_kafka_err2str(error)));
  std::map<std::string, int> topics;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const auto& topic = metadata->topics[i];
    if (topic.err != RD_KAFKA_RESP_ERR_NO_ERROR || std::strncmp(topic.topic, "__", 2) == 0) continue;
    topics.emplace(topic.topic, topic.partition_cnt);
  }
  rd_kafka_metadata_destroy(metadata);
  return topics;
}

}  // namespace mq::engines::kafka
