// GroupCommit: concurrent durable appends combined into one write and one fdatasync.
// The write function here stands in for PartitionLog's append + sync so that the tests
// can see every call; the last test runs the real one on disk.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "engines/embedded/group_commit.hpp"
#include "engines/embedded/partition_log.hpp"
#include "test_support.hpp"

namespace mq::engines::embedded {
namespace {

// A log that hands out consecutive offsets, takes `delay` per write (so that callers
// queue up behind it), and remembers the size of every write.
class RecordingLog {
 public:
  explicit RecordingLog(std::chrono::microseconds delay) : delay_(delay) {}

  AppendOutcome write(std::span<const RecordInput> records) {
    std::this_thread::sleep_for(delay_);
    std::lock_guard lock(mutex_);
    if (fail_next_) {
      fail_next_ = false;
      failed_write_size_ = records.size();
      return AppendOutcome{Status(ErrorCode::io, "disk full (test)")};
    }
    if (throw_next_) {
      throw_next_ = false;
      throw std::bad_alloc();
    }
    writes_.push_back(records.size());
    const AppendOutcome outcome{Status{}, next_offset_, writes_.size()};
    next_offset_ += static_cast<std::int64_t>(records.size());
    return outcome;
  }
  std::vector<std::size_t> writes() {
    std::lock_guard lock(mutex_);
    return writes_;
  }
  std::size_t failed_write_size() {
    std::lock_guard lock(mutex_);
    return failed_write_size_;
  }
  void fail_next() {
    std::lock_guard lock(mutex_);
    fail_next_ = true;
  }
  void throw_next() {
    std::lock_guard lock(mutex_);
    throw_next_ = true;
  }

 private:
  const std::chrono::microseconds delay_;
  std::mutex mutex_;
  std::int64_t next_offset_ = 0;
  std::vector<std::size_t> writes_;
  bool fail_next_ = false;
  std::size_t failed_write_size_ = 0;
  bool throw_next_ = false;
};

std::vector<RecordInput> records_of(const std::vector<Message>& messages) {
  std::vector<RecordInput> records;
  for (const auto& message : messages) records.push_back(RecordInput{&message, nullptr, std::nullopt});
  return records;
}

TEST(GroupCommitTest, ConcurrentCallersShareWritesAndEachGetsItsOwnOffsets) {
  RecordingLog log(std::chrono::microseconds(500));
  GroupCommit commit([&](std::span<const RecordInput> records) { return log.write(records); });
  constexpr int threads = 16;
  constexpr int per_thread = 40;
  std::mutex mutex;
  std::vector<std::pair<std::int64_t, std::size_t>> ranges;  // (base offset, records)
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        // 1 to 3 records per call, so that shares of a write differ in size.
        const std::vector<Message> messages(static_cast<std::size_t>(1 + (t + i) % 3), test::make_message("v"));
        const auto records = records_of(messages);
        const auto outcome = commit.submit(records);
        if (!outcome.status.ok()) ++failures;
        std::lock_guard lock(mutex);
        ranges.emplace_back(outcome.base_offset, records.size());
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
  // Every record has exactly one offset: the callers' ranges tile [0, total).
  std::sort(ranges.begin(), ranges.end());
  std::int64_t next = 0;
  for (const auto& [base, count] : ranges) {
    ASSERT_EQ(base, next);
    next += static_cast<std::int64_t>(count);
  }
  const auto writes = log.writes();
  std::size_t written = 0;
  for (auto size : writes) written += size;
  EXPECT_EQ(written, static_cast<std::size_t>(next));
  EXPECT_EQ(ranges.size(), static_cast<std::size_t>(threads * per_thread));
  // With 16 callers and a 0.5 ms write, callers queue: far fewer writes than calls.
  EXPECT_LT(writes.size(), ranges.size() / 2);
}

TEST(GroupCommitTest, AFailedWriteFailsExactlyTheCallersItCarried) {
  RecordingLog log(std::chrono::milliseconds(5));
  GroupCommit commit([&](std::span<const RecordInput> records) { return log.write(records); });
  const std::vector<Message> messages{test::make_message("v")};
  const auto records = records_of(messages);
  log.fail_next();
  constexpr int callers = 6;
  std::atomic<int> failed{0};
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back([&] {
      const auto outcome = commit.submit(records);
      if (outcome.status.ok()) ++succeeded;
      else if (outcome.status.code() == ErrorCode::io && outcome.base_offset == -1) ++failed;
    });
  }
  for (auto& thread : threads) thread.join();
  // Whichever write failed, its callers (and only they) got its error; the rest were
  // written by later writes.
  EXPECT_GE(failed.load(), 1);
  EXPECT_EQ(static_cast<std::size_t>(failed.load()), log.failed_write_size());
  EXPECT_EQ(failed.load() + succeeded.load(), callers);
  std::size_t written = 0;
  for (auto size : log.writes()) written += size;
  EXPECT_EQ(written, static_cast<std::size_t>(succeeded.load()));
  EXPECT_TRUE(commit.submit(records).status.ok());
}

TEST(GroupCommitTest, AThrowingWriteAnswersEveryCallerWithAnError) {
  RecordingLog log(std::chrono::microseconds(0));
  GroupCommit commit([&](std::span<const RecordInput> records) { return log.write(records); });
  const std::vector<Message> messages{test::make_message("v")};
  const auto records = records_of(messages);
  log.throw_next();
  const auto outcome = commit.submit(records);
  EXPECT_FALSE(outcome.status.ok());
  EXPECT_EQ(outcome.base_offset, -1);
  EXPECT_TRUE(commit.submit(records).status.ok());
}

TEST(GroupCommitTest, AWriteTakesAtMostMaxGroupRecordsUnlessOneCallerHasMore) {
  RecordingLog log(std::chrono::milliseconds(2));
  GroupCommit commit([&](std::span<const RecordInput> records) { return log.write(records); });
  const std::vector<Message> big(GroupCommit::max_group_records / 3, test::make_message("v"));
  const std::vector<Message> huge(GroupCommit::max_group_records + 10, test::make_message("v"));
  const auto big_records = records_of(big);
  const auto huge_records = records_of(huge);
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < 5; ++i) EXPECT_TRUE(commit.submit(big_records).status.ok());
    });
  }
  workers.emplace_back([&] { EXPECT_TRUE(commit.submit(huge_records).status.ok()); });
  for (auto& worker : workers) worker.join();
  std::size_t total = 0;
  for (auto size : log.writes()) {
    total += size;
    if (size != huge_records.size()) {
      EXPECT_LE(size, GroupCommit::max_group_records);
    }
  }
  EXPECT_EQ(total, 8 * 5 * big_records.size() + huge_records.size());
}

TEST(GroupCommitTest, DurableAppendsFromManyThreadsAreAllReadBackWithFewerFdatasyncs) {
  test::TempDir dir;
  PartitionLog log(dir.path(), LogOptions{FsyncPolicy::always});
  constexpr int threads = 16;
  constexpr int per_thread = 50;
  std::mutex mutex;
  std::set<std::int64_t> offsets;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const auto message = test::make_message(std::to_string(t) + "-" + std::to_string(i));
        const RecordInput record{&message, nullptr, std::nullopt};
        const auto outcome = log.append_durably(std::span(&record, 1));
        if (!outcome.status.ok()) ++failures;
        std::lock_guard lock(mutex);
        offsets.insert(outcome.base_offset);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(offsets.size(), static_cast<std::size_t>(threads * per_thread));
  EXPECT_EQ(*offsets.begin(), 0);
  EXPECT_EQ(*offsets.rbegin(), threads * per_thread - 1);
  const auto records = test::read_all(dir.path());
  ASSERT_EQ(records.size(), static_cast<std::size_t>(threads * per_thread));
  std::set<std::string> values;
  for (const auto& record : records) values.insert(record.message.value);
  EXPECT_EQ(values.size(), records.size());  // each value once: nothing lost, nothing twice
  EXPECT_LT(log.fsync_count(), static_cast<std::uint64_t>(threads * per_thread));
}

}  // namespace
}  // namespace mq::engines::embedded
