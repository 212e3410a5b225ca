#include "core/offset_frontier.hpp"

#include <gtest/gtest.h>

namespace mq::core {
namespace {

TEST(OffsetFrontier, CommitsOnlyContiguously) {
  OffsetFrontier frontier(10);
  for (std::int64_t offset = 10; offset < 15; ++offset) frontier.delivered(offset);
  EXPECT_EQ(frontier.outstanding(), 5u);
  EXPECT_FALSE(frontier.finished(12));  // 10 and 11 still open
  EXPECT_FALSE(frontier.finished(14));
  EXPECT_EQ(frontier.committed(), 10);
  EXPECT_TRUE(frontier.finished(10));
  EXPECT_EQ(frontier.committed(), 11);
  EXPECT_TRUE(frontier.finished(11));
  EXPECT_EQ(frontier.committed(), 13);  // 12 was done: jumps past it
  EXPECT_TRUE(frontier.finished(13));
  EXPECT_EQ(frontier.committed(), 15);
  EXPECT_EQ(frontier.outstanding(), 0u);
  EXPECT_EQ(frontier.next(), 15);
}

TEST(OffsetFrontier, IgnoresUnknownAndRepeatedOffsets) {
  OffsetFrontier frontier(0);
  frontier.delivered(0);
  frontier.delivered(5);  // gaps are allowed (compacted or deleted records)
  EXPECT_FALSE(frontier.finished(3));
  EXPECT_TRUE(frontier.finished(0));
  EXPECT_FALSE(frontier.finished(0));
  EXPECT_EQ(frontier.committed(), 5);
  EXPECT_TRUE(frontier.finished(5));
  EXPECT_EQ(frontier.committed(), 6);
}

TEST(OffsetFrontier, ListsFinishedOffsetsAboveTheCommitAsRanges) {
  OffsetFrontier frontier(0);
  for (std::int64_t offset : {0, 1, 2, 3, 4, 6, 7, 9}) frontier.delivered(offset);
  using Ranges = std::vector<std::pair<std::int64_t, std::int64_t>>;
  EXPECT_EQ(frontier.finished_above(10), Ranges{});
  for (std::int64_t offset : {1, 2, 4, 6, 9}) frontier.finished(offset);
  EXPECT_EQ(frontier.committed(), 0);
  // 4 and 6 are neighbours among delivered offsets (5 holds no message): one range.
  EXPECT_EQ(frontier.finished_above(10), (Ranges{{1, 2}, {4, 6}, {9, 9}}));
  EXPECT_EQ(frontier.finished_above(2), (Ranges{{1, 2}, {4, 6}}));
  frontier.finished(0);
  EXPECT_EQ(frontier.committed(), 3);
  EXPECT_EQ(frontier.finished_above(10), (Ranges{{4, 6}, {9, 9}}));
}

}  // namespace
}  // namespace mq::core
