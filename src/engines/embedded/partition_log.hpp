// PartitionLog: the writer of one partition directory (docs/FORMAT.md sections 3, 7, 8).
//
// Thread-safe. Several PartitionLogs — in this process or in others — may append to the
// same directory: each append holds the directory's LOCK (flock), first catches up with
// what other writers appended (validating it), and writes whole batches with one pwrite.
// Durability is separate from appending: sync_through() makes a sequence of appends
// durable, and concurrent callers share one fdatasync (group commit).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "engines/embedded/file.hpp"
#include "engines/embedded/format.hpp"
#include "engines/embedded/group_commit.hpp"
#include "mq/error.hpp"
#include "mq/options.hpp"

namespace mq::engines::embedded {

struct LogOptions {
  FsyncPolicy fsync = FsyncPolicy::interval;
  std::uint64_t segment_bytes = 64ull << 20;  // clamped to [4 KiB, 1 GiB] (u32 positions)
  milliseconds retention{0};                  // 0 keeps every segment (by age)
  std::uint64_t retention_bytes = 0;          // 0: no size limit
  bool repair = false;                        // cut mid-log damage instead of failing
};

class PartitionLog {
 public:
  PartitionLog(std::string directory, LogOptions options);
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  // Appends the records at consecutive offsets. Blocks for the LOCK and the write, not
  // for an fsync. Errors (disk full, EIO, file size limit, topic deleted, corruption
  // found on open) come back in the status; nothing of a failed append stays in the log.
  AppendOutcome append(std::span<const RecordInput> records);

  // append() and sync_through() in one, combined with concurrent callers (GroupCommit):
  // returns once the records are on stable storage.
  AppendOutcome append_durably(std::span<const RecordInput> records) { return group_commit_.submit(records); }

  // Returns once every append up to `sequence` is on stable storage (fdatasync). A
  // caller arriving while an fdatasync runs waits for it and then shares the next one.
  // After an fdatasync failure every later call and append fails (the kernel may have
  // dropped the dirty pages: nothing written since can be trusted to be durable).
  Status sync_through(std::uint64_t sequence);
  // sync_through(the last append), for the interval policy. No-op when clean.
  Status sync_written();

  // Deletes whole segments older than the retention or beyond the size limit, oldest
  // first, never the last one. Returns how many were deleted.
  std::size_t apply_retention(TimePoint now);

  // The next offset a writer will use, after catching up with other writers.
  std::int64_t end_offset();

  const std::string& directory() const { return directory_; }
  std::uint64_t fsync_count() const { return fsync_count_.load(std::memory_order_relaxed); }

 private:
  // All below require mutex_ and the LOCK.
  void catch_up();       // recover on first use, else validate what others appended
  void recover();
  void open_active(std::int64_t base, bool create);
  void roll_if_full();
  void check_not_deleted();
  void start_writeback();  // write-behind for `never` and `interval`

  const std::string directory_;
  const LogOptions options_;
  const std::string lock_path_;

  std::mutex mutex_;  // serialises appends in this process; the LOCK does it across processes
  File lock_file_;
  bool recovered_ = false;
  std::int64_t active_base_ = 0;
  std::shared_ptr<File> active_log_;  // shared with an fdatasync in flight
  File active_index_;
  File active_time_index_;
  std::uint64_t active_bytes_ = 0;
  std::uint64_t writeback_from_ = 0;  // of the active segment: bytes before it were handed to the disk
  std::int64_t end_offset_ = 0;
  IndexBuilder builder_;
  std::uint64_t written_sequence_ = 0;
  Status failure_;  // sticky after an fdatasync failure
  // The bytes of the append being written: cleared, not freed, between appends, so a
  // steady stream of batches encodes without reallocating.
  std::string encode_buffer_;

  std::mutex sync_mutex_;  // never held while taking mutex_
  std::condition_variable synced_;
  std::uint64_t synced_sequence_ = 0;
  bool sync_running_ = false;
  std::atomic<std::uint64_t> fsync_count_{0};

  GroupCommit group_commit_{[this](std::span<const RecordInput> records) {
    AppendOutcome outcome = append(records);
    if (outcome.status.ok()) outcome.status = sync_through(outcome.sequence);
    return outcome;
  }};
};

}  // namespace mq::engines::embedded
