#include "core/partitioner.hpp"

#include <gtest/gtest.h>

namespace mq::core {
namespace {

// Expected values from Kafka's own test suite (UtilsTest.testMurmur2), so that keys land
// on the same partitions as with Kafka's default partitioner.
TEST(Murmur2, MatchesKafkaReferenceValues) {
  EXPECT_EQ(murmur2("21"), -973932308);
  EXPECT_EQ(murmur2("foobar"), -790332482);
  EXPECT_EQ(murmur2("a-little-bit-long-string"), -985981536);
  EXPECT_EQ(murmur2("a-little-bit-longer-string"), -1486304829);
  EXPECT_EQ(murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
  EXPECT_EQ(murmur2(std::string_view("abc", 3)), 479470107);
}

TEST(Murmur2, PartitionIsPositiveAndStable) {
  for (int partitions : {1, 3, 4, 7, 100}) {
    for (const char* key : {"", "a", "order-1", "order-2", "21"}) {
      const int partition = partition_for_key(key, partitions);
      EXPECT_GE(partition, 0);
      EXPECT_LT(partition, partitions);
      EXPECT_EQ(partition, partition_for_key(key, partitions));
    }
  }
  // toPositive(-973932308) % 4 == (-973932308 & 0x7fffffff) % 4
  EXPECT_EQ(partition_for_key("21", 4), (-973932308 & 0x7fffffff) % 4);
}

}  // namespace
}  // namespace mq::core
