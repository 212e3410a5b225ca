// The Kafka engine's group member (KafkaSubscription) against the mock cluster: what the
// next owner of a partition gets after this member acked records out of order, and how
// a member that holds records (core's delay scheduler) gives a partition up.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.hpp"
#include "mock_cluster.hpp"
#include "mq/mq.hpp"

namespace mq::kafka_test {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

class KafkaSubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = Config::defaults("development");
    config.url = cluster_.url();
    client_ = std::make_unique<Client>(config);
    client_->admin().create_topic(topic_, TopicOptions{.partitions = 1});
    auto producer = client_->producer();
    for (int i = 0; i < count_; ++i) producer.send(Message(topic_, std::to_string(i)));
    engine_ = core::open_engine(cluster_.url(), config);
  }

  // Polls `subscription` until `wanted` records came or `limit` passed.
  static std::vector<core::Record> poll_for(core::Subscription& subscription, std::size_t wanted,
                                            std::chrono::milliseconds limit) {
    std::vector<core::Record> records;
    const auto deadline = SteadyClock::now() + limit;
    while (records.size() < wanted && SteadyClock::now() < deadline) {
      for (auto& record : subscription.poll(wanted - records.size(), 100ms)) records.push_back(std::move(record));
    }
    return records;
  }

  static std::vector<std::string> values(const std::vector<core::Record>& records) {
    std::vector<std::string> out;
    for (const auto& record : records) out.push_back(record.message.value);
    return out;
  }

  MockCluster cluster_;
  std::unique_ptr<Client> client_;
  std::shared_ptr<core::Engine> engine_;
  const std::string topic_ = "held";
  const int count_ = 10;
};

// 1..9 acked, 0 not: the commit stays at 0, and its metadata names 1..9, so the next
// member of the group gets 0 alone (before, it got all ten again).
TEST_F(KafkaSubscriptionTest, RecordsAckedAboveTheCommitAreNotDeliveredAgain) {
  const core::SubscriptionSpec spec{"acked-above", {topic_}, StartPosition::earliest};
  {
    auto first = engine_->subscribe(spec);
    const auto records = poll_for(*first, count_, 30s);
    ASSERT_EQ(records.size(), static_cast<std::size_t>(count_));
    for (int i = 1; i < count_; ++i) first->ack(records[static_cast<std::size_t>(i)]);
    first->close();
  }
  auto second = engine_->subscribe(spec);
  auto again = poll_for(*second, 1, 30s);
  const auto more = poll_for(*second, count_, 1s);  // nothing else may come
  again.insert(again.end(), more.begin(), more.end());
  EXPECT_EQ(values(again), std::vector<std::string>{"0"});
  second->close();
}

// A member that holds records gives its partitions up as soon as the group rebalances
// (not after the 10 s a handler gets), and owns() tells it to drop what it held: under
// the eager protocol every member gives everything up, and what it gets back is fetched
// again. (How soon is not asserted: the mock cluster ends a rebalance by its own timer,
// evicting a member that is slow to rejoin after the 3 s session.)
TEST_F(KafkaSubscriptionTest, AHolderGivesUpAPartitionAtOnceAndDropsItsRecords) {
  const core::SubscriptionSpec spec{"holder", {topic_}, StartPosition::earliest, /*holds_records=*/true};
  auto first = engine_->subscribe(spec);
  const auto held = poll_for(*first, count_, 30s);
  ASSERT_EQ(held.size(), static_cast<std::size_t>(count_));
  EXPECT_TRUE(first->owns(held.front()));
  // A second member joins; the first keeps polling (its rebalance runs in poll) and acks
  // nothing.
  std::unique_ptr<core::Subscription> second;
  std::atomic<bool> joined{false};
  std::thread joiner([&] {
    second = engine_->subscribe(spec);
    joined = true;
  });
  const auto start = SteadyClock::now();
  std::vector<core::Record> fetched_again;
  while ((!joined || first->owns(held.front())) && SteadyClock::now() - start < 20s) {
    for (auto& record : first->poll(count_, 50ms)) fetched_again.push_back(std::move(record));
  }
  joiner.join();
  for (const auto& record : held) EXPECT_FALSE(first->owns(record));
  // Nothing was acked: every held record comes again, to whichever member owns its
  // partition now. How many times depends on how often the group rebalanced while the
  // second member joined: each assignment after the holder gave up starts again at the
  // committed offset, and the mock cluster may end a rebalance by its timer and start
  // another (a CI run fetched all ten twice). So the exact outcome is the set.
  std::set<std::string> distinct;
  for (const auto& record : fetched_again) distinct.insert(record.message.value);
  const auto deadline = SteadyClock::now() + 30s;
  while (distinct.size() < static_cast<std::size_t>(count_) && SteadyClock::now() < deadline) {
    for (auto* member : {first.get(), second.get()}) {
      for (auto& record : member->poll(count_, 50ms)) {
        distinct.insert(record.message.value);
        fetched_again.push_back(std::move(record));
      }
    }
  }
  std::set<std::string> all;
  for (int i = 0; i < count_; ++i) all.insert(std::to_string(i));
  EXPECT_EQ(distinct, all);
  EXPECT_GE(fetched_again.size(), static_cast<std::size_t>(count_));
  first->close();
  second->close();
}

}  // namespace
}  // namespace mq::kafka_test
