#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mq/message.hpp"

namespace mq {
namespace {

using Entries = std::vector<Headers::Entry>;

TEST(Headers, FindReturnsTheLastOfANameAcrossSharedAndOwnEntries) {
  Headers headers{{"a", "1"}, {"b", "2"}};
  const auto shared = headers.share();
  ASSERT_TRUE(shared);
  EXPECT_EQ(shared->size(), 2u);
  headers.add("a", "3");
  EXPECT_EQ(headers.size(), 3u);
  EXPECT_EQ(*headers.find("a"), "3");
  EXPECT_EQ(*headers.find("b"), "2");
  EXPECT_FALSE(headers.find("c"));
  EXPECT_EQ(headers.entries(), (Entries{{"a", "1"}, {"b", "2"}, {"a", "3"}}));
}

TEST(Headers, CopiesShareTheBlockAndChangesStayLocal) {
  Headers original{{"traceparent", "00-x"}, {"x-trace-id", "x"}};
  const auto block = original.share();
  Headers copy = original;
  Headers from_block(block);
  EXPECT_EQ(copy, original);
  EXPECT_EQ(from_block, original);
  EXPECT_EQ(block.use_count(), 4) << "one block for all of them";

  copy.set("mq-attempt", "2");  // adding does not copy the block
  EXPECT_EQ(block.use_count(), 4);
  EXPECT_EQ(copy.size(), 3u);
  EXPECT_EQ(original.size(), 2u);

  copy.set("x-trace-id", "y");  // changing one of its entries does (copy-on-write)
  EXPECT_EQ(block.use_count(), 3);
  EXPECT_EQ(copy.entries(), (Entries{{"traceparent", "00-x"}, {"mq-attempt", "2"}, {"x-trace-id", "y"}}));
  EXPECT_EQ(*original.find("x-trace-id"), "x");
  EXPECT_EQ(*from_block.find("x-trace-id"), "x");
  EXPECT_EQ(*block, (Entries{{"traceparent", "00-x"}, {"x-trace-id", "x"}})) << "the block never changes";

  from_block.remove("traceparent");
  EXPECT_EQ(from_block.entries(), (Entries{{"x-trace-id", "x"}}));
  EXPECT_NE(from_block, original);
}

TEST(Headers, ShareMergesOwnEntriesIntoOneBlock) {
  Headers headers(std::make_shared<const Entries>(Entries{{"a", "1"}}));
  headers.add("b", "2");
  const auto merged = headers.share();
  EXPECT_EQ(*merged, (Entries{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(headers.share(), merged) << "already one block";
  EXPECT_FALSE(Headers().share()) << "nothing to share";

  Headers going{{"c", "3"}};
  const auto moved = std::move(going).share();
  EXPECT_EQ(*moved, (Entries{{"c", "3"}}));
  EXPECT_EQ(moved.use_count(), 1) << "moved out, not shared with the old headers";
}

TEST(Headers, IterationVisitsSharedThenOwnEntries) {
  Headers empty;
  EXPECT_EQ(empty.begin(), empty.end());
  Headers only_shared(std::make_shared<const Entries>(Entries{{"a", "1"}, {"b", "2"}}));
  std::string names;
  for (const auto& [name, value] : only_shared) names += name;
  EXPECT_EQ(names, "ab");
  only_shared.add("c", "3");
  names.clear();
  for (const auto& [name, value] : only_shared) names += name + value;
  EXPECT_EQ(names, "a1b2c3");
  Headers only_own{{"d", "4"}};
  EXPECT_EQ(std::distance(only_own.begin(), only_own.end()), 1);
}

}  // namespace
}  // namespace mq
