// The embedded engine through the engine interface, in one process: capabilities,
// partitioning, admin and lag, members sharing a group, durability across reopen.
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/engine.hpp"
#include "core/partitioner.hpp"
#include "engines/embedded/format.hpp"
#include "engines/embedded/topics.hpp"
#include "test_support.hpp"

namespace mq::engines::embedded {
namespace {

using namespace std::chrono_literals;
using test::drain;
using test::TempDir;

std::shared_ptr<core::Engine> open_engine(const std::string& dir, FsyncPolicy fsync = FsyncPolicy::never) {
  Config config;
  config.embedded.fsync = fsync;
  return core::open_engine("embedded://" + dir, config);
}

std::vector<core::AppendResult> send(core::Engine& engine, const std::string& topic, int count,
                                     std::optional<std::string> key = std::nullopt, Acks acks = Acks::leader) {
  static int sent = 0;  // ids stay distinct across calls
  std::vector<core::Envelope> batch;
  for (int i = 0; i < count; ++i) {
    core::Envelope envelope;
    envelope.message.topic = topic;
    envelope.message.key = key;
    envelope.message.value = std::to_string(i);
    envelope.message.id = topic + "/" + std::to_string(sent++);
    envelope.message.timestamp = Clock::now();
    batch.push_back(std::move(envelope));
  }
  std::vector<core::AppendResult> results;
  engine.append(std::move(batch), acks, [&](std::vector<core::AppendResult>&& done) { results = std::move(done); });
  return results;
}

TEST(EngineTest, StatesItsCapabilities) {
  TempDir dir;
  const auto engine = open_engine(dir.path());
  const auto& capabilities = engine->capabilities();
  EXPECT_EQ(capabilities.engine, "embedded");
  EXPECT_TRUE(capabilities.durable);
  EXPECT_TRUE(capabilities.multi_process);
  EXPECT_TRUE(capabilities.native_delay);
  EXPECT_TRUE(capabilities.offsets);
  EXPECT_TRUE(capabilities.priority);
  EXPECT_FALSE(capabilities.server);
}

TEST(EngineTest, KeysPickPartitionsLikeKafkaAndKeylessSendsGoRoundRobin) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  const auto keyed = send(*engine, "orders", 5, std::string("customer-42"));
  for (const auto& result : keyed) {
    ASSERT_TRUE(result.status.ok());
    EXPECT_EQ(result.receipt.partition, core::partition_for_key("customer-42", 4));
  }
  EXPECT_EQ(keyed.back().receipt.offset, 4);
  // The keyless messages of one append share a partition (one write)...
  std::set<int> batch_partitions;
  for (const auto& result : send(*engine, "spread", 8)) batch_partitions.insert(result.receipt.partition);
  EXPECT_EQ(batch_partitions.size(), 1u);
  // ...and appends one after another go round-robin.
  std::map<int, int> per_partition;
  for (int i = 0; i < 8; ++i) ++per_partition[send(*engine, "spread", 1).front().receipt.partition];
  EXPECT_EQ(per_partition, (std::map<int, int>{{0, 2}, {1, 2}, {2, 2}, {3, 2}}));
}

// Under load (other keyless appends in flight) the partition stays, so that concurrent
// senders share one writer queue, for at most keyless_run_messages.
TEST(EngineTest, KeylessPartitionStaysWhileOthersAreInFlightForAtMostOneRun) {
  TempDir dir;
  TopicWriter writer(DataDir{dir.path()}, "t", TopicSettings{.partitions = 3}, LogOptions{});
  const int first = writer.begin_keyless();
  const int second = writer.begin_keyless();
  EXPECT_EQ(first, second);
  writer.end_keyless(first, 10);  // another is in flight: stay
  EXPECT_EQ(writer.begin_keyless(), first);
  writer.end_keyless(first, 10);
  writer.end_keyless(first, 10);  // the last one in flight: move on
  const int next = writer.begin_keyless();
  EXPECT_EQ(next, (first + 1) % 3);
  const int other = writer.begin_keyless();  // in flight beside the next one
  writer.end_keyless(next, TopicWriter::keyless_run_messages);  // a whole run: move on anyway
  EXPECT_EQ(writer.begin_keyless(), (first + 2) % 3);
  writer.end_keyless(other, 1);  // ended late, for a partition already left: no effect
  EXPECT_EQ(writer.begin_keyless(), (first + 2) % 3);
}

TEST(EngineTest, AdminTopicsAndGroupLag) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("admin.topic", TopicOptions{.partitions = 2});
  EXPECT_THROW(engine->create_topic("admin.topic", TopicOptions{}), Error);
  send(*engine, "admin.topic", 10);
  const auto topics = engine->list_topics();
  ASSERT_EQ(topics.size(), 1u);
  EXPECT_EQ(topics[0].partitions, 2);
  EXPECT_EQ(topics[0].messages, 10u);

  auto subscription = engine->subscribe(core::SubscriptionSpec{"lag.group", {"admin.topic"}, StartPosition::earliest});
  std::vector<core::Record> records;
  while (records.size() < 10) {
    for (auto& record : subscription->poll(10, 100ms)) records.push_back(std::move(record));
  }
  for (int i = 0; i < 4; ++i) subscription->ack(records[static_cast<std::size_t>(i)]);
  EXPECT_EQ(engine->list_groups(), std::vector<std::string>{"lag.group"});
  auto info = engine->describe_group("lag.group");
  EXPECT_EQ(info.members, 1);
  std::int64_t acked_in_order = 0;
  for (const auto& partition : info.partitions) acked_in_order += partition.committed;
  EXPECT_EQ(info.total_lag(), 10 - acked_in_order);
  for (std::size_t i = 4; i < records.size(); ++i) subscription->ack(records[i]);
  // Acks are written at most every commit interval (20 ms), by a later ack or by the
  // poll loop (as Kafka's auto-commit rides on poll): keep polling, as a consumer does.
  EXPECT_TRUE(test::wait_until(
      [&] {
        subscription->poll(1, 5ms);
        return engine->describe_group("lag.group").total_lag() == 0;
      },
      5s));
  subscription->close();

  engine->delete_topic("admin.topic");
  EXPECT_TRUE(engine->list_topics().empty());
  EXPECT_THROW(engine->delete_topic("admin.topic"), Error);
  EXPECT_THROW(engine->describe_group("no.such.group"), Error);
}

// A topic made right after a "latest" member joined holds only new messages: all of
// them are delivered. Made within one tick of the join, its file time used to compare
// as older than the join (coarse file-system clock against Clock::now()), and its first
// messages were skipped. Many rounds, so that some land within a tick.
TEST(EngineTest, TopicCreatedRightAfterALatestJoinIsReadFromItsStart) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  for (int round = 0; round < 50; ++round) {
    const std::string prefix = "fresh" + std::to_string(round);
    auto subscription = engine->subscribe(core::SubscriptionSpec{prefix + ".group", {prefix + ".*"}, StartPosition::latest});
    send(*engine, prefix + ".topic", 3);
    const auto records = drain(*subscription, 3);
    ASSERT_EQ(records.size(), 3u) << "round " << round;
    subscription->close();
  }
}

TEST(EngineTest, AutoCreateOffRefusesUnknownTopics) {
  TempDir dir;
  Config config;
  config.auto_create_topics = false;
  auto engine = core::open_engine("embedded://" + dir.path(), config);
  const auto results = send(*engine, "unknown", 1);
  EXPECT_EQ(results.front().status.code(), ErrorCode::not_found);
}

TEST(EngineTest, TwoMembersSplitPartitionsAndHandOverOnClose) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("shared", TopicOptions{.partitions = 4});
  auto first = engine->subscribe(core::SubscriptionSpec{"g", {"shared"}, StartPosition::earliest});
  auto second = engine->subscribe(core::SubscriptionSpec{"g", {"shared"}, StartPosition::earliest});
  for (int i = 0; i < 8; ++i) send(*engine, "shared", 50);  // 8 appends: round-robin
  std::set<std::string> seen;
  std::size_t from_first = 0;
  std::size_t from_second = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (seen.size() < 400 && std::chrono::steady_clock::now() < deadline) {
    for (auto* member : {first.get(), second.get()}) {
      for (auto& record : member->poll(100, 20ms)) {
        EXPECT_TRUE(seen.insert(record.message.id).second) << "handled twice: " << record.message.id;
        (member == first.get() ? from_first : from_second)++;
        member->ack(record);
      }
    }
  }
  EXPECT_EQ(seen.size(), 400u);
  EXPECT_GT(from_first, 0u);
  EXPECT_GT(from_second, 0u);
  first->close();
  send(*engine, "shared", 100);
  EXPECT_EQ(drain(*second, 100).size(), 100u);  // the survivor took every partition
  second->close();
}

TEST(EngineTest, AcknowledgedMessagesAndOffsetsSurviveReopen) {
  TempDir dir;
  {
    auto engine = open_engine(dir.path(), FsyncPolicy::always);
    for (const auto& result : send(*engine, "durable", 50, std::nullopt, Acks::all)) ASSERT_TRUE(result.status.ok());
    auto subscription = engine->subscribe(core::SubscriptionSpec{"d", {"durable"}, StartPosition::earliest});
    EXPECT_EQ(drain(*subscription, 50).size(), 50u);
    subscription->close();
    send(*engine, "durable", 7);
  }
  auto engine = open_engine(dir.path());
  auto subscription = engine->subscribe(core::SubscriptionSpec{"d", {"durable"}, StartPosition::earliest});
  EXPECT_EQ(drain(*subscription, 7).size(), 7u);
  EXPECT_TRUE(subscription->poll(10, 200ms).empty());
  subscription->close();
}

// FORMAT.md section 5: a group's version 1 offset file (an older build's) is read, migrated
// to version 2 when its partition is claimed, and from then on rewritten in place — the
// same inode, no temporary files — while the offsets keep counting.
TEST(EngineTest, OffsetFilesOfAnOlderBuildAreReadAndMigratedThenRewrittenInPlace) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("legacy", TopicOptions{.partitions = 1});
  send(*engine, "legacy", 10);
  const std::string offsets = dir.path() + "/groups/g/offsets/legacy";
  std::filesystem::create_directories(offsets);
  test::write_bytes(offsets + "/0", encode_offset_file_v1(4));
  {
    auto subscription = engine->subscribe(core::SubscriptionSpec{"g", {"legacy"}, StartPosition::earliest});
    const auto records = drain(*subscription, 6);
    ASSERT_EQ(records.size(), 6u);
    EXPECT_EQ(records.front().message.offset, 4) << "the version 1 offset was honoured";
    EXPECT_TRUE(subscription->poll(10, 100ms).empty());
    subscription->close();
  }
  auto contents = decode_offset_file(test::read_bytes(offsets + "/0"), "f");
  EXPECT_EQ(contents.version, 2);
  EXPECT_EQ(contents.offset, 10);
  const auto migrated_inode = test::inode_of(offsets + "/0");
  for (int round = 1; round <= 3; ++round) {
    send(*engine, "legacy", 5);
    auto subscription = engine->subscribe(core::SubscriptionSpec{"g", {"legacy"}, StartPosition::earliest});
    ASSERT_EQ(drain(*subscription, 5).size(), 5u);
    subscription->close();
    contents = decode_offset_file(test::read_bytes(offsets + "/0"), "f");
    EXPECT_EQ(contents.offset, 10 + 5 * round);
    EXPECT_EQ(test::inode_of(offsets + "/0"), migrated_inode) << "a commit rewrites the file in place";
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(offsets), std::filesystem::directory_iterator{}), 1)
      << "no temporary files";
  EXPECT_EQ(engine->describe_group("g").total_lag(), 0);
}

// ack_all() finishes every record it is given, and only those: after close, the group
// gets exactly the records that were not acked. (Each partition's acked records are a
// prefix: an offset engine commits the contiguous part.)
TEST(EngineTest, AckAllFinishesExactlyTheRecordsGiven) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("batched", TopicOptions{.partitions = 2});
  for (int i = 0; i < 4; ++i) send(*engine, "batched", 25);
  std::set<std::string> unacked;
  {
    auto subscription = engine->subscribe(core::SubscriptionSpec{"b", {"batched"}, StartPosition::earliest});
    std::vector<core::Record> records;
    ASSERT_TRUE(test::wait_until(
        [&] {
          for (auto& record : subscription->poll(100, 10ms)) records.push_back(std::move(record));
          return records.size() == 100;
        },
        20s));
    std::vector<const core::Record*> acked;
    for (const auto& record : records) {
      if (record.message.offset < 30) acked.push_back(&record);
      else unacked.insert(record.message.id);
    }
    ASSERT_EQ(acked.size(), 60u);
    subscription->ack_all(acked);
    subscription->close();
  }
  auto subscription = engine->subscribe(core::SubscriptionSpec{"b", {"batched"}, StartPosition::earliest});
  std::set<std::string> again;
  for (const auto& record : drain(*subscription, 40)) again.insert(record.message.id);
  EXPECT_EQ(again, unacked);
  EXPECT_TRUE(subscription->poll(10, 200ms).empty());
  subscription->close();
}

// A member re-reads its group (the members/ dir and files, the topics) when something
// changed there or once a second, not on every poll: its own reads used to count as a
// change (inotify IN_CLOSE_NOWRITE), so a busy member rebalanced before every fetch.
TEST(EngineTest, ABusyMemberDoesNotRereadItsGroupOnEveryPoll) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("busy", TopicOptions{.partitions = 1});
  for (int i = 0; i < 30; ++i) send(*engine, "busy", 10);
  auto subscription = engine->subscribe(core::SubscriptionSpec{"g", {"busy"}, StartPosition::earliest});
  // Counts opens of the members/ dir itself (each rebalance lists it once).
  const int watcher = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(watcher, 0);
  const std::string members = dir.path() + "/groups/g/members";
  ASSERT_GE(::inotify_add_watch(watcher, members.c_str(), IN_OPEN), 0);
  const auto started = std::chrono::steady_clock::now();
  std::size_t received = 0;
  int polls = 0;
  while (received < 300 && std::chrono::steady_clock::now() - started < 20s) {
    auto records = subscription->poll(10, 100ms);  // 10 per poll: 30 polls with records
    received += records.size();
    polls += records.empty() ? 0 : 1;
    for (const auto& record : records) subscription->ack(record);
  }
  const auto elapsed = std::chrono::steady_clock::now() - started;
  int directory_opens = 0;
  alignas(inotify_event) char buffer[4096];
  for (ssize_t got = 0; (got = ::read(watcher, buffer, sizeof buffer)) > 0;) {
    for (ssize_t at = 0; at < got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      if (event->len == 0 && (event->mask & IN_OPEN)) ++directory_opens;
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  ::close(watcher);
  subscription->close();
  EXPECT_EQ(received, 300u);
  EXPECT_EQ(polls, 30);
  // The first poll's rebalance, plus one per second of the loop (the periodic re-read).
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(elapsed).count();
  EXPECT_LE(directory_opens, 1 + seconds + 1) << "over " << polls << " polls in " << seconds << " s";
}

TEST(EngineTest, UrlOptionsAreChecked) {
  TempDir dir;
  EXPECT_THROW(core::open_engine("embedded://" + dir.path() + "?colour=blue", Config{}), Error);
  EXPECT_NO_THROW(core::open_engine("embedded://" + dir.path() + "?repair=true", Config{}));
}

}  // namespace
}  // namespace mq::engines::embedded
