// URL and Config to librdkafka properties, and mq patterns to librdkafka regexes.
#include <gtest/gtest.h>
#include <regex.h>

#include <algorithm>
#include <string>

#include "core/engine_registry.hpp"
#include "core/topic_pattern.hpp"
#include "engines/kafka/engine.hpp"

namespace mq::engines::kafka {
namespace {

// The last value given for `name` (later properties win in librdkafka's conf).
std::string value_of(const Properties& properties, const std::string& name) {
  std::string value;
  for (const auto& [key, text] : properties) {
    if (key == name) value = text;
  }
  return value;
}

EngineSettings settings(const std::string& url, Config config = Config::defaults("development")) {
  return settings_from(core::parse_url(url), config);
}

TEST(KafkaUrl, HostsBecomeTheBootstrapList) {
  const auto s = settings("kafka://b1:9093,b2");
  EXPECT_EQ(s.bootstrap, "b1:9093,b2:9092");
  EXPECT_EQ(value_of(producer_properties(s, Acks::leader), "bootstrap.servers"), "b1:9093,b2:9092");
}

TEST(KafkaUrl, UserinfoIsSaslPlainAndNeverShown) {
  const auto s = settings("kafka://app:s3cret@b1:9092");
  const auto properties = consumer_properties(s, "g", StartPosition::earliest);
  EXPECT_EQ(value_of(properties, "security.protocol"), "sasl_plaintext");
  EXPECT_EQ(value_of(properties, "sasl.mechanism"), "PLAIN");
  EXPECT_EQ(value_of(properties, "sasl.username"), "app");
  EXPECT_EQ(value_of(properties, "sasl.password"), "s3cret");
  EXPECT_EQ(s.redacted_url.find("s3cret"), std::string::npos);
  EXPECT_EQ(s.bootstrap.find("s3cret"), std::string::npos);
}

TEST(KafkaUrl, PrefixedPropertiesPassThroughAndWin) {
  auto config = Config::defaults("development");
  config.engine_properties["kafka.sasl.mechanism"] = "SCRAM-SHA-256";
  config.engine_properties["kafka.compression.type"] = "zstd";
  config.engine_properties["kafka.ssl.ca.location"] = "/etc/ca.pem";
  config.engine_properties["redis.password"] = "other-engine";
  const auto s = settings("kafka://app:pw@b1:9092?security.protocol=sasl_ssl", config);
  const auto properties = producer_properties(s, Acks::all);
  EXPECT_EQ(value_of(properties, "sasl.mechanism"), "SCRAM-SHA-256");
  EXPECT_EQ(value_of(properties, "security.protocol"), "sasl_ssl");
  EXPECT_EQ(value_of(properties, "compression.type"), "zstd");
  EXPECT_EQ(value_of(properties, "ssl.ca.location"), "/etc/ca.pem");
  EXPECT_EQ(value_of(properties, "redis.password"), "");
  EXPECT_EQ(value_of(properties, "password"), "");
}

TEST(KafkaUrl, AcksAndIdempotence) {
  const auto s = settings("kafka://b1:9092");
  EXPECT_EQ(value_of(producer_properties(s, Acks::none), "acks"), "0");
  EXPECT_EQ(value_of(producer_properties(s, Acks::leader), "acks"), "1");
  EXPECT_EQ(value_of(producer_properties(s, Acks::all), "acks"), "all");
  EXPECT_EQ(value_of(producer_properties(s, Acks::all), "enable.idempotence"), "true");
  EXPECT_EQ(value_of(producer_properties(s, Acks::leader), "enable.idempotence"), "false");
  EXPECT_EQ(value_of(producer_properties(s, Acks::leader), "partitioner"), "murmur2_random");
}

TEST(KafkaUrl, ConsumerCommitsManually) {
  const auto properties = consumer_properties(settings("kafka://b1:9092"), "billing.group", StartPosition::latest);
  EXPECT_EQ(value_of(properties, "group.id"), "billing.group");
  EXPECT_EQ(value_of(properties, "enable.auto.commit"), "false");
  EXPECT_EQ(value_of(properties, "enable.auto.offset.store"), "false");
  EXPECT_EQ(value_of(properties, "auto.offset.reset"), "latest");
}

TEST(KafkaUrl, BadUrlsAreClearErrors) {
  EXPECT_THROW(settings("kafka://b1:9092/path"), Error);
  try {
    settings("kafka://u:topsecret@b1:9092/x");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_argument);
    EXPECT_EQ(std::string(error.what()).find("topsecret"), std::string::npos) << error.what();
  }
}

TEST(KafkaUrl, BadSecretPropertyValueIsNotShown) {
  auto config = Config::defaults("development");
  config.engine_properties["kafka.sasl.kerberos.min.time.before.relogin"] = "hunter2";  // an integer property
  const auto s = settings("kafka://b1:9092", config);
  try {
    make_handle(RD_KAFKA_PRODUCER, producer_properties(s, Acks::leader), {}, s.redacted_url);
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("sasl.kerberos.min.time.before.relogin"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find("hunter2"), std::string::npos) << error.what();
  }
}

// The regex must accept exactly what core::TopicPattern accepts (POSIX ERE, as librdkafka).
TEST(KafkaPatterns, RegexMatchesWhatTopicPatternMatches) {
  const std::vector<std::string> patterns = {"order.*", "order.#", "*.created", "#.created", "#", "*",
                                             "a.#.b", "a.*.b", "order.created"};
  const std::vector<std::string> topics = {"order", "order.created", "order.paid", "order.item.added",
                                           "created", "x.created", "mq.created", "mq.dlq.g", "a.b",
                                           "a.x.b", "a.x.y.b", "ab", "orderXcreated", "m", "mqx.created"};
  for (const auto& pattern : patterns) {
    const auto text = subscription_regex(pattern);
    core::TopicPattern expected(pattern);
    if (!expected.is_pattern()) {
      EXPECT_EQ(text, pattern);
      continue;
    }
    ASSERT_EQ(text.front(), '^') << text;
    regex_t regex;
    ASSERT_EQ(regcomp(&regex, text.c_str(), REG_EXTENDED | REG_NOSUB), 0) << text;
    for (const auto& topic : topics) {
      const bool matched = regexec(&regex, topic.c_str(), 0, nullptr, 0) == 0;
      EXPECT_EQ(matched, expected.matches(topic)) << pattern << " -> " << text << " on " << topic;
    }
    regfree(&regex);
  }
}

}  // namespace
}  // namespace mq::engines::kafka
