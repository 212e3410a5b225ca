// GroupCommit: combines concurrent durable appends to one log into one write and one
// fdatasync (docs/FORMAT.md section 3, "Writing"; LevelDB's writer queue, with the
// followers woken together).
//
// Callers queue in groups. The first caller of a group leads it: once the group ahead
// has finished, it takes every record queued in its group, appends and syncs them with
// one call, and hands each caller its share of the outcome. The others sleep until
// their group is finished; a whole group is woken with one futex call, not one per
// caller. While one group is written, the next one fills up.
//
// Why: with fsync `always`, 64 threads sending one message at a time each paid their
// own lock hand-offs, and a condition variable's notify_all woke every waiter after
// each fdatasync to find mostly that its own write was not covered yet: three context
// switches per message, 30,000 messages/s. (bench/RESULTS.md, "Embedded engine: group
// commit queue, sticky keyless partitions, write-behind".)
//
// Thread-safe. Invariant: every submit() returns exactly once with its records'
// outcome; a leader never touches a follower after publishing its group as finished
// (the follower may have returned and its stack frame be gone).
#pragma once

#include <semaphore.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "engines/embedded/format.hpp"
#include "mq/error.hpp"

namespace mq::engines::embedded {

// What an append to a partition log returns (PartitionLog::append, GroupCommit::submit).
struct AppendOutcome {
  Status status;
  std::int64_t base_offset = -1;  // offset of the first record
  std::uint64_t sequence = 0;     // pass to PartitionLog::sync_through() for durability
};

class GroupCommit {
 public:
  // Appends the records (one call, consecutive offsets) and makes them durable.
  using WriteDurably = std::function<AppendOutcome(std::span<const RecordInput>)>;

  // A group takes callers while its records stay within this (a caller's own records
  // always fit: a group of one), so one write and its encode buffer stay bounded.
  static constexpr std::size_t max_group_records = 4096;

  explicit GroupCommit(WriteDurably write) : write_(std::move(write)) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Returns the outcome of this caller's records: its base offset within the group's
  // write, and the group's status (a failed write fails every caller of the group).
  AppendOutcome submit(std::span<const RecordInput> records);

 private:
  // A caller of submit(), on its own stack.
  struct Caller {
    std::span<const RecordInput> records;
    AppendOutcome outcome;
    sem_t turn;  // a leader's wake-up when its group reaches the front; unused by followers
  };
  struct Group {
    std::uint32_t number = 0;
    std::vector<Caller*> callers;  // callers[0] leads
    std::size_t records = 0;
  };

  // Writes the front group (callers[0] is the leader, the calling thread), gives each
  // caller its outcome, wakes the group's callers and then the next group's leader.
  void lead(const std::vector<Caller*>& callers, std::uint32_t number);
  // Wakes the callers of group `number`.
  void publish_finished(std::uint32_t number);
  // Sleeps until group `number` is finished.
  void wait_finished(std::uint32_t number);

  const WriteDurably write_;
  std::mutex mutex_;               // guards groups_, next_number_, front_started_
  std::deque<Group> groups_;       // front: being written (or its leader being woken); back: open
  std::uint32_t next_number_ = 0;  // wraps; compared by difference
  bool front_started_ = false;     // the front group's leader has taken its callers: closed
  // The number of the last finished group of each parity. Followers of group n wait on
  // finished_[n % 2], so finishing group n does not wake the followers of group n + 1.
  // Starts "before" groups 0 and 1.
  std::atomic<std::uint32_t> finished_[2] = {std::uint32_t(-2), std::uint32_t(-1)};
};

}  // namespace mq::engines::embedded
