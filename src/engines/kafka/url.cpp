// kafka://[user:password@]host:port[,host:port...][?librdkafka.property=value&...]
// and Config into librdkafka properties. The grammar is in README.md.
#include <fmt/format.h>

#include <string_view>

#include "engines/kafka/engine.hpp"

namespace mq::engines::kafka {
namespace {

constexpr std::string_view property_prefix = "kafka.";

void add(Properties& properties, std::string name, std::string value) {
  properties.emplace_back(std::move(name), std::move(value));
}

// Word of a pattern as a regular expression (ERE, which librdkafka uses): topic names
// are [A-Za-z0-9._-], so '.' is the only character to escape.
std::string literal(std::string_view word) {
  std::string out;
  for (char c : word) {
    if (c == '.') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

EngineSettings settings_from(const core::EngineUrl& url, const Config& config) {
  EngineSettings settings;
  settings.redacted_url = url.redacted;
  if (url.hosts.empty()) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("{}: kafka:// needs at least one broker, as in kafka://localhost:9092", url.redacted));
  }
  if (!url.path.empty()) {
    throw Error(ErrorCode::invalid_argument,
                fmt::format("{}: kafka:// takes no path ('/{}'); list brokers as host:port,host:port", url.redacted,
                            url.path));
  }
  for (const auto& [host, port] : url.hosts) {
    if (!settings.bootstrap.empty()) settings.bootstrap += ',';
    settings.bootstrap += fmt::format("{}:{}", host, port == 0 ? 9092 : port);
  }
  // user:password@ is SASL; PLAIN over plaintext unless properties say otherwise
  // (kafka.sasl.mechanism=SCRAM-SHA-256, kafka.security.protocol=sasl_ssl, ...).
  if (!url.user.empty()) {
    add(settings.security, "security.protocol", "sasl_plaintext");
    add(settings.security, "sasl.mechanism", "PLAIN");
    add(settings.security, "sasl.username", url.user);
    add(settings.security, "sasl.password", url.password);
  }
  for (const auto& [name, value] : url.query) add(settings.user, name, value);
  for (const auto& [name, value] : config.engine_properties) {
    if (name.starts_with(property_prefix)) add(settings.user, name.substr(property_prefix.size()), value);
  }
  settings.client_id = config.client_id.empty() ? "mq" : config.client_id;
  settings.default_partitions = config.default_partitions > 0 ? config.default_partitions : 4;
  settings.auto_create_topics = config.auto_create_topics;
  settings.connect_timeout = std::max(config.connect_timeout, milliseconds(1));
  settings.send_timeout = std::max(config.producer.send_timeout, milliseconds(1));
  settings.max_message_bytes = config.producer.max_message_bytes;
  return settings;
}

namespace {

Properties common_properties(const EngineSettings& settings) {
  Properties properties;
  add(properties, "bootstrap.servers", settings.bootstrap);
  add(properties, "client.id", settings.client_id);
  add(properties, "log.connection.close", "false");
  // Room for the largest message core lets through (value + key + headers) plus framing.
  add(properties, "message.max.bytes", std::to_string(std::max<std::size_t>(settings.max_message_bytes + 65536, 1000000)));
  properties.insert(properties.end(), settings.security.begin(), settings.security.end());
  return properties;
}

Properties with_user(Properties properties, const EngineSettings& settings) {
  properties.insert(properties.end(), settings.user.begin(), settings.user.end());
  return properties;
}

}  // namespace

Properties producer_properties(const EngineSettings& settings, Acks acks) {
  Properties properties = common_properties(settings);
  // Keys land on the partition Kafka's Java client (and core::partition_for_key) picks.
  add(properties, "partitioner", "murmur2_random");
  add(properties, "acks", acks == Acks::none ? "0" : acks == Acks::leader ? "1" : "all");
  // acks=all (the production default) also gets the idempotent producer: retries then
  // neither duplicate nor reorder a partition's messages.
  add(properties, "enable.idempotence", acks == Acks::all ? "true" : "false");
  // Core already lingers (ProducerOptions::linger) and hands over whole batches (up to 8
  // in flight per producer): a second long linger here would add its delay to every
  // batch's round trip, and to every sync send. 1 ms is about what handing over 1,000 messages takes, so a batch still
  // leaves in few requests (with 0, librdkafka sends tiny ones and is slower still).
  add(properties, "linger.ms", "1");
  add(properties, "message.timeout.ms", std::to_string(settings.send_timeout.count()));
  add(properties, "queue.buffering.max.messages", "2000000");
  return with_user(std::move(properties), settings);
}

Properties consumer_properties(const EngineSettings& settings, const std::string& group, StartPosition start) {
  Properties properties = common_properties(settings);
  add(properties, "group.id", group);
  // Offsets are committed by the subscription, contiguously, after handlers succeeded.
  add(properties, "enable.auto.commit", "false");
  add(properties, "enable.auto.offset.store", "false");
  add(properties, "auto.offset.reset", start == StartPosition::earliest ? "earliest" : "latest");
  // New topics matching a pattern are picked up within this (C10 allows 5 s).
  add(properties, "topic.metadata.refresh.interval.ms", "1000");
  add(properties, "fetch.wait.max.ms", "100");
  return with_user(std::move(properties), settings);
}

Properties admin_properties(const EngineSettings& settings) {
  Properties properties = common_properties(settings);
  add(properties, "acks", "all");  // control messages to mq_kafka_mock
  add(properties, "linger.ms", "0");
  return with_user(std::move(properties), settings);
}

std::string subscription_regex(const std::string& entry) {
  std::vector<std::string_view> words;
  bool pattern = false;
  for (std::size_t start = 0;;) {
    const auto dot = entry.find('.', start);
    const auto word = std::string_view(entry).substr(start, dot == std::string::npos ? dot : dot - start);
    if (word == "*" || word == "#") pattern = true;
    if (!(word == "#" && !words.empty() && words.back() == "#")) words.push_back(word);  // ## is #
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!pattern) return entry;
  // A first word that is not "mq": patterns never match reserved mq.* topics.
  const std::string not_mq = "([^m.][^.]*|m[^q.][^.]*|mq[^.]+|m)";
  std::string regex = "^";
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto word = words[i];
    const bool first = i == 0;
    const bool last = i + 1 == words.size();
    if (word == "#") {
      // '#' takes zero or more words along with their dots; a word after it follows
      // without a separator of its own.
      if (first && last) regex += not_mq + "(\\.[^.]+)*";
      else if (first) regex += "(" + not_mq + "\\.([^.]+\\.)*)?";
      else if (last) regex += "(\\.[^.]+)*";
      else regex += "(\\.[^.]+)*\\.";
      continue;
    }
    if (!first && words[i - 1] != "#") regex += "\\.";
    regex += word == "*" ? (first ? not_mq : "[^.]+") : literal(word);
  }
  return regex + "$";
}

}  // namespace mq::engines::kafka
