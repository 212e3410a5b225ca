#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "mq/config.hpp"
#include "mq/error.hpp"

namespace mq {
namespace {

ErrorCode code_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.code();
  }
  return ErrorCode::ok;
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(Config, EnvironmentDefaultsDiffer) {
  const auto development = Config::defaults("development");
  const auto production = Config::defaults("production");
  EXPECT_EQ(development.producer.acks, Acks::leader);
  EXPECT_EQ(development.consumer.retry.max_attempts, 3);
  EXPECT_EQ(development.consumer.start, StartPosition::latest);
  EXPECT_EQ(development.producer.linger, milliseconds(5));
  EXPECT_EQ(production.producer.acks, Acks::all);
  EXPECT_EQ(production.consumer.retry.max_attempts, 10);
  EXPECT_EQ(production.consumer.start, StartPosition::earliest);
  EXPECT_EQ(production.embedded.fsync, FsyncPolicy::always);
  EXPECT_GT(production.producer.batch_max_messages, development.producer.batch_max_messages);
  EXPECT_EQ(code_of([] { Config::defaults("staging"); }), ErrorCode::invalid_argument);
}

TEST(Config, JsonSettingsAndDurations) {
  const auto config = Config::from_json(R"({
      "url": "memory://",
      "producer": {"acks": "all", "linger": "250ms", "max_message_bytes": "2MiB"},
      "consumer": {"workers": 8, "retry": {"max_attempts": 5, "initial_backoff": "2s"}},
      "embedded": {"retention": "7d", "fsync": "always"},
      "engine_properties": {"kafka.compression.type": "lz4"}
    })",
                                        Config::defaults("development"));
  EXPECT_EQ(config.url, "memory://");
  EXPECT_EQ(config.producer.acks, Acks::all);
  EXPECT_EQ(config.producer.linger, milliseconds(250));
  EXPECT_EQ(config.producer.max_message_bytes, 2u << 20);
  EXPECT_EQ(config.consumer.workers, 8);
  EXPECT_EQ(config.consumer.retry.max_attempts, 5);
  EXPECT_EQ(config.consumer.retry.initial_backoff, milliseconds(2000));
  EXPECT_EQ(config.embedded.retention, milliseconds(7ll * 86400 * 1000));
  EXPECT_EQ(config.engine_properties.at("kafka.compression.type"), "lz4");
}

TEST(Config, UnknownKeysAndBadValuesNameTheKey) {
  const auto base = Config::defaults("development");
  EXPECT_NE(message_of([&] { Config::from_json(R"({"consumer": {"wrkers": 3}})", base); })
                .find("unknown key 'consumer.wrkers'"),
            std::string::npos);
  EXPECT_NE(message_of([&] { Config::from_json(R"({"consumer": {"workers": "many"}})", base); })
                .find("'consumer.workers'"),
            std::string::npos);
  EXPECT_NE(message_of([&] { Config::from_json(R"({"producer": {"acks": "most"}})", base); })
                .find("none | leader | all"),
            std::string::npos);
  EXPECT_EQ(code_of([&] { Config::from_json(R"({"producer": {"linger": "5 parsecs"}})", base); }),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([&] { Config::from_json("{not json", base); }), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([&] { Config::from_json("[1,2]", base); }), ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([&] { Config::from_json(R"({"consumer": {"workers": 0}})", base); }),
            ErrorCode::invalid_argument);
  EXPECT_EQ(code_of([&] { Config::from_json_file("/nonexistent/mq.json", base); }), ErrorCode::not_found);
}

TEST(Config, EnvironmentVariablesOverrideTheFile) {
  const std::string path = ::testing::TempDir() + "mq-config-test.json";
  std::ofstream(path) << R"({"consumer": {"workers": 2}, "producer": {"acks": "none"}})";
  ::setenv("MQ_CONSUMER_WORKERS", "6", 1);
  ::setenv("MQ_ENV", "production", 1);
  const auto config = Config::load(path);
  ::unsetenv("MQ_CONSUMER_WORKERS");
  ::unsetenv("MQ_ENV");
  EXPECT_EQ(config.environment, "production");
  EXPECT_EQ(config.consumer.workers, 6);              // environment beats the file
  EXPECT_EQ(config.producer.acks, Acks::none);        // file beats the defaults
  EXPECT_EQ(config.consumer.retry.max_attempts, 10);  // production default kept

  ::setenv("MQ_PRODUCER_ACKS", "sometimes", 1);
  const auto message = message_of([] { Config::load(); });
  ::unsetenv("MQ_PRODUCER_ACKS");
  EXPECT_NE(message.find("MQ_PRODUCER_ACKS"), std::string::npos) << message;
}

TEST(Config, PrintedConfigHidesCredentials) {
  auto config = Config::defaults("development");
  config.url = "redis://app:s3cret@localhost:6379/0";
  config.engine_properties["kafka.sasl.password"] = "hunter2";
  config.engine_properties["kafka.compression.type"] = "lz4";
  const auto text = config.to_json();
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_NE(text.find("redis://app:***@localhost:6379/0"), std::string::npos) << text;
  EXPECT_NE(text.find("lz4"), std::string::npos);
  // What is printed can be read back.
  const auto again = Config::from_json(text, Config::defaults("development"));
  EXPECT_EQ(again.consumer.workers, config.consumer.workers);
}

TEST(RetryPolicy, ExponentialBackoffWithCap) {
  RetryPolicy policy;
  policy.initial_backoff = milliseconds(100);
  policy.multiplier = 2;
  policy.max_backoff = milliseconds(500);
  EXPECT_EQ(policy.backoff_before(2), milliseconds(100));
  EXPECT_EQ(policy.backoff_before(3), milliseconds(200));
  EXPECT_EQ(policy.backoff_before(4), milliseconds(400));
  EXPECT_EQ(policy.backoff_before(5), milliseconds(500));
  EXPECT_EQ(policy.backoff_before(50), milliseconds(500));
}

}  // namespace
}  // namespace mq
