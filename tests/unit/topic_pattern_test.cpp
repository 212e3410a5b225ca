#include "core/topic_pattern.hpp"

#include <gtest/gtest.h>

namespace mq::core {
namespace {

TEST(TopicPattern, StarMatchesExactlyOneWord) {
  TopicPattern pattern("order.*");
  EXPECT_TRUE(pattern.is_pattern());
  EXPECT_TRUE(pattern.matches("order.created"));
  EXPECT_TRUE(pattern.matches("order.paid"));
  EXPECT_FALSE(pattern.matches("order.item.added"));
  EXPECT_FALSE(pattern.matches("order"));
  EXPECT_FALSE(pattern.matches("orders.created"));
}

TEST(TopicPattern, HashMatchesAnyNumberOfWords) {
  TopicPattern pattern("order.#");
  EXPECT_TRUE(pattern.matches("order.created"));
  EXPECT_TRUE(pattern.matches("order.item.added"));
  EXPECT_TRUE(pattern.matches("order"));
  EXPECT_FALSE(pattern.matches("payment.created"));
  EXPECT_TRUE(TopicPattern("#").matches("a.b.c"));
  EXPECT_TRUE(TopicPattern("#.added").matches("order.item.added"));
  EXPECT_TRUE(TopicPattern("order.#.added").matches("order.added"));
  EXPECT_FALSE(TopicPattern("order.#.added").matches("order.item.removed"));
}

TEST(TopicPattern, PatternsNeverMatchReservedTopics) {
  EXPECT_FALSE(TopicPattern("#").matches("mq.dlq.billing"));
  EXPECT_FALSE(TopicPattern("mq.*").matches("mq.delay"));
  // An explicit name does match: that is how mq subscribes to its own topics.
  EXPECT_TRUE(TopicPattern("mq.dlq.billing").matches("mq.dlq.billing"));
}

TEST(TopicFilter, MatchesAnyEntry) {
  TopicFilter filter({"order.created", "payment.*"});
  EXPECT_TRUE(filter.matches("order.created"));
  EXPECT_TRUE(filter.matches("payment.failed"));
  EXPECT_FALSE(filter.matches("order.paid"));
  EXPECT_EQ(filter.names(), std::vector<std::string>{"order.created"});
  EXPECT_FALSE(TopicFilter().matches("x"));
}

}  // namespace
}  // namespace mq::core
