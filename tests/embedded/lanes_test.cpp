// Priority lanes of the embedded engine (docs/FORMAT.md section 1a): highest first,
// hidden from topic lists, counted in lag, offsets per lane that survive a hand-over
// and a reopen, recovery of a lane's torn tail, delayed messages moved into their lane.
// A lane made by another process: process_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>

#include "core/engine.hpp"
#include "mq/mq.hpp"
#include "test_support.hpp"

namespace mq::engines::embedded {
namespace {

using namespace std::chrono_literals;
using test::drain;
using test::TempDir;

std::shared_ptr<core::Engine> open_engine(const std::string& dir) {
  Config config;
  config.embedded.fsync = FsyncPolicy::never;
  config.default_partitions = 1;
  return core::open_engine("embedded://" + dir, config);
}

// Appends `count` messages "<prefix>-i" of `priority`, optionally due later.
std::vector<core::AppendResult> send(core::Engine& engine, const std::string& topic, int count,
                                     const std::string& prefix, int priority, TimePoint due = {}) {
  std::vector<core::Envelope> batch;
  for (int i = 0; i < count; ++i) {
    core::Envelope envelope;
    envelope.message.topic = topic;
    envelope.message.value = prefix + "-" + std::to_string(i);
    envelope.message.id = envelope.message.value;
    envelope.message.timestamp = Clock::now();
    envelope.message.priority = priority;
    envelope.due = due;
    batch.push_back(std::move(envelope));
  }
  std::vector<core::AppendResult> results;
  engine.append(std::move(batch), Acks::leader, [&](std::vector<core::AppendResult>&& done) { results = std::move(done); });
  for (const auto& result : results) EXPECT_TRUE(result.status.ok()) << result.status.to_string();
  return results;
}

std::int64_t lag_of(core::Engine& engine, const std::string& group) { return engine.describe_group(group).total_lag(); }

TEST(LanesTest, HigherPriorityFirstHiddenLanesAndLagCountsThem) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("jobs", TopicOptions{.partitions = 1});
  EXPECT_EQ(test::read_bytes(dir.path() + "/FORMAT"), "mq-embedded 1\n");  // no lane yet
  send(*engine, "jobs", 20, "low", 0);
  const auto high = send(*engine, "jobs", 5, "high", 9);
  send(*engine, "jobs", 3, "mid", 5);
  EXPECT_EQ(high.front().receipt.offset, 0) << "offsets count per lane";
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/topics/jobs/0.p9"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/topics/jobs/0.p5"));
  EXPECT_EQ(test::read_bytes(dir.path() + "/FORMAT"), "mq-embedded 2\n");

  const auto topics = engine->list_topics();
  ASSERT_EQ(topics.size(), 1u) << "a lane is not a topic";
  EXPECT_EQ(topics[0].name, "jobs");
  EXPECT_EQ(topics[0].messages, 28u);

  auto subscription = engine->subscribe(core::SubscriptionSpec{"g", {"#"}, StartPosition::earliest});
  std::vector<core::Record> first;
  while (first.size() < 10) {
    for (auto& record : subscription->poll(10 - first.size(), 100ms)) first.push_back(std::move(record));
  }
  for (std::size_t i = 0; i < first.size(); ++i) {
    const char* expected = i < 5 ? "high-" : i < 8 ? "mid-" : "low-";
    EXPECT_TRUE(first[i].message.value.starts_with(expected)) << i << ": " << first[i].message.value;
    EXPECT_EQ(first[i].message.topic, "jobs");
    EXPECT_EQ(first[i].message.partition, 0);
  }
  EXPECT_EQ(first[0].message.priority, 9);
  EXPECT_EQ(first[4].message.value, "high-4");

  // Acked: the 5 high ones and 2 of the 3 mid ones. Lag = 28 sent - 7 acked.
  for (std::size_t i = 0; i < 7; ++i) subscription->ack(first[i]);
  EXPECT_TRUE(test::wait_until(
      [&] {
        subscription->poll(0, 5ms);
        return lag_of(*engine, "g") == 21;
      },
      5s))
      << lag_of(*engine, "g");
  const auto info = engine->describe_group("g");
  ASSERT_EQ(info.partitions.size(), 1u) << "lanes count towards their partition";
  EXPECT_EQ(info.partitions[0].committed, 7);
  EXPECT_EQ(info.partitions[0].end, 28);

  // Closing gives the unacked ones back; the next member continues each lane at its
  // committed offset: nothing lost, nothing acked delivered again.
  subscription->close();
  auto next = engine->subscribe(core::SubscriptionSpec{"g", {"jobs"}, StartPosition::earliest});
  const auto rest = drain(*next, 21);
  ASSERT_EQ(rest.size(), 21u);
  EXPECT_EQ(rest[0].message.value, "mid-2");
  std::set<std::string> values;
  for (const auto& record : rest) values.insert(record.message.value);
  EXPECT_EQ(values.size(), 21u);
  EXPECT_FALSE(values.count("high-0"));
  EXPECT_TRUE(test::wait_until(
      [&] {
        next->poll(0, 5ms);
        return lag_of(*engine, "g") == 0;
      },
      5s));
  EXPECT_TRUE(next->poll(10, 100ms).empty());
  next->close();

  engine->delete_topic("jobs");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/topics/jobs"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/groups/g/offsets/jobs"));
}

TEST(LanesTest, AGroupStartingLatestSkipsOldLaneMessagesButReadsLanesMadeLater) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("news", TopicOptions{.partitions = 1});
  send(*engine, "news", 4, "old", 7);
  auto subscription = engine->subscribe(core::SubscriptionSpec{"late", {"news"}, StartPosition::latest});
  EXPECT_TRUE(subscription->poll(10, 200ms).empty());  // claims, fixing the start of every lane
  send(*engine, "news", 2, "new", 7);
  send(*engine, "news", 3, "urgent", 8);  // a lane created after the start was fixed
  const auto records = drain(*subscription, 5);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].message.value.substr(0, 6), "urgent");
  EXPECT_EQ(records[3].message.value, "new-0");
  EXPECT_TRUE(subscription->poll(10, 100ms).empty());
  subscription->close();
}

TEST(LanesTest, ALaneRecoversItsTornTailAndKeepsItsOffsetsAcrossReopen) {
  TempDir dir;
  const std::string segment = dir.path() + "/topics/tasks/0.p3/00000000000000000000.log";
  {
    auto engine = open_engine(dir.path());
    engine->create_topic("tasks", TopicOptions{.partitions = 1});
    send(*engine, "tasks", 6, "a", 3);
    auto subscription = engine->subscribe(core::SubscriptionSpec{"w", {"tasks"}, StartPosition::earliest});
    ASSERT_EQ(drain(*subscription, 6).size(), 6u);
    subscription->close();  // commits the acks
  }
  // A writer that died mid-write leaves half a batch at the end of the lane's segment.
  const std::string bytes = test::read_bytes(segment);
  test::write_bytes(segment, bytes + bytes.substr(0, 40));
  test::LogCapture logs;
  auto engine = open_engine(dir.path());
  const auto results = send(*engine, "tasks", 2, "b", 3);
  EXPECT_EQ(results.front().receipt.offset, 6) << "the torn tail was truncated, offsets continue";
  EXPECT_TRUE(logs.contains("torn_tail")) << logs.text();
  auto subscription = engine->subscribe(core::SubscriptionSpec{"w", {"tasks"}, StartPosition::earliest});
  auto records = drain(*subscription, 2);
  ASSERT_EQ(records.size(), 2u) << "the lane's committed offset survived the reopen";
  EXPECT_EQ(records[0].message.value, "b-0");
  EXPECT_EQ(records[1].message.value, "b-1");
  subscription->close();
}

TEST(LanesTest, DelayedMessagesAreMovedIntoTheirLane) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("later", TopicOptions{.partitions = 1});
  auto subscription = engine->subscribe(core::SubscriptionSpec{"d", {"later"}, StartPosition::earliest});
  send(*engine, "later", 3, "plain", 0);
  send(*engine, "later", 2, "soon", 6, Clock::now() + 200ms);
  auto records = drain(*subscription, 5);
  ASSERT_EQ(records.size(), 5u);
  int delayed = 0;
  for (const auto& record : records) {
    if (!record.message.value.starts_with("soon")) continue;
    ++delayed;
    EXPECT_EQ(record.message.priority, 6);
  }
  EXPECT_EQ(delayed, 2);
  EXPECT_EQ(test::read_all(dir.path() + "/topics/later/0.p6").size(), 2u);
  subscription->close();
}

// Through the public API: a priority-9 message that always fails is dead-lettered into
// the dead-letter topic's lane 9, listed, and replayed into its original topic's lane.
TEST(LanesTest, PriorityDeadLettersAreListedAndReplayedIntoTheirLane) {
  TempDir dir;
  Config config = Config::defaults("development");
  config.embedded.fsync = FsyncPolicy::never;
  config.default_partitions = 1;
  Client client("embedded://" + dir.path(), config);
  std::atomic<bool> failing{true};
  std::atomic<int> handled{0};
  ConsumerOptions options;
  options.group = "dl.group";
  options.topics = {"urgent"};
  options.start = StartPosition::earliest;
  options.retry.max_attempts = 1;
  auto consumer = client.consumer(options, [&](const Message& message) {
    if (failing) return Outcome::retry("boom");
    EXPECT_EQ(message.priority, 9);
    ++handled;
    return Outcome::ack();
  });
  auto producer = client.producer();
  Message message("urgent", "now");
  message.priority = 9;
  producer.send(message);
  ASSERT_TRUE(test::wait_until([&] { return consumer.stats().dead_lettered == 1; }, 20s));
  auto admin = client.admin();
  const auto letters = admin.list_dead_letters("dl.group");
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].message.priority, 9);
  EXPECT_EQ(letters[0].original_topic, "urgent");
  failing = false;
  EXPECT_EQ(admin.replay_dead_letters("dl.group", DeadLetterSelection::everything()), 1u);
  ASSERT_TRUE(test::wait_until([&] { return handled == 1; }, 20s));
  EXPECT_TRUE(admin.list_dead_letters("dl.group").empty());
  EXPECT_EQ(test::read_all(dir.path() + "/topics/urgent/0.p9").size(), 2u);  // sent, then replayed
  consumer.stop();
}

}  // namespace
}  // namespace mq::engines::embedded
