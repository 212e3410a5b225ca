#include "core/validate.hpp"

#include <gtest/gtest.h>

#include "mq/error.hpp"

namespace mq::core {
namespace {

ErrorCode code_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.code();
  }
  return ErrorCode::ok;
}

TEST(Validate, TopicNames) {
  EXPECT_EQ(code_of([] { validate_user_topic("order.created"); }), ErrorCode::ok);
  EXPECT_EQ(code_of([] { validate_user_topic("A-z_0.9"); }), ErrorCode::ok);
  EXPECT_EQ(code_of([] { validate_user_topic(std::string(249, 'a')); }), ErrorCode::ok);
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("../x"),
                          std::string("a/b"), std::string(250, 'a'), std::string("sp ace"), std::string("nul\0x", 5),
                          std::string("mq.dlq.x")}) {
    EXPECT_EQ(code_of([&] { validate_user_topic(bad); }), ErrorCode::invalid_argument) << bad;
  }
}

TEST(Validate, ErrorsNameTheProblemAndEscapeInput) {
  try {
    validate_user_topic("a/b\x01");
    FAIL();
  } catch (const Error& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("invalid topic name 'a/b\\x01'"), std::string::npos) << what;
  }
}

TEST(Validate, Subscriptions) {
  for (const char* good : {"order.*", "order.#", "#", "*.created", "order.created", "mq.dlq.g"}) {
    EXPECT_EQ(code_of([&] { validate_subscription(good); }), ErrorCode::ok) << good;
  }
  for (const char* bad : {"order.cre*", "order..*", "", "a/b.*", "order.#x"}) {
    EXPECT_EQ(code_of([&] { validate_subscription(bad); }), ErrorCode::invalid_argument) << bad;
  }
}

TEST(Validate, MessageSizeAndHeaders) {
  Message message("t", std::string(100, 'x'));
  EXPECT_EQ(code_of([&] { validate_message(message, 100, false); }), ErrorCode::ok);
  message.headers.add("h", "1");
  EXPECT_EQ(code_of([&] { validate_message(message, 100, false); }), ErrorCode::limit_exceeded);
  Message bad_header("t", "v");
  bad_header.headers.add("", "v");
  EXPECT_EQ(code_of([&] { validate_message(bad_header, 100, false); }), ErrorCode::invalid_argument);
  Message bad_priority("t", "v");
  bad_priority.priority = 10;
  EXPECT_EQ(code_of([&] { validate_message(bad_priority, 100, false); }), ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace mq::core
