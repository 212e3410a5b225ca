// A member of a consumer group on the embedded engine; members may live in different
// processes (docs/FORMAT.md sections 5 and 7).
//
// Ownership: a partition belongs to the member holding the flock on its claims/ file.
// Every member computes the same fair target (the least-loaded matching member per
// partition, members ordered by id) from the live members/ files and the topics/ dir,
// claims what the target gives it and gives up the rest cooperatively: a partition is
// released (offset committed, flock dropped) only once every record delivered from it
// has been acked, so no message is handled by two members at once.
//
// Wake-up: poll() sleeps in poll(2) on an inotify descriptor watching the owned
// partition directories (new data), topics/ (new topics for patterns) and members/
// (joins and leaves), plus an eventfd for wakeup(). Nothing spins.
//
// Thread-safety: poll() from one thread at a time; ack() and wakeup() from any thread.
// Lock order: commit_mutex_ before mutex_. Only the polling thread changes owned_ (claims,
// releases, new lanes; close() runs when poll() does not) and only it uses the lanes'
// readers, so it reads them without mutex_; acks change frontiers and flags under it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/engine.hpp"
#include "core/offset_frontier.hpp"
#include "core/partition_assignment.hpp"
#include "core/topic_pattern.hpp"
#include "engines/embedded/group_store.hpp"
#include "engines/embedded/partition_reader.hpp"

namespace mq::engines::embedded {

class EmbeddedEngine;

class EmbeddedSubscription final : public core::Subscription {
 public:
  EmbeddedSubscription(std::shared_ptr<EmbeddedEngine> engine, const core::SubscriptionSpec& spec);
  ~EmbeddedSubscription() override;

  std::vector<core::Record> poll(std::size_t max, std::chrono::milliseconds timeout) override;
  void ack(const core::Record& record) override;
  void ack_all(std::span<const core::Record* const> records) override;
  void wakeup() override;
  void close() override;

 private:
  using TopicPartition = core::TopicPartition;
  // One lane of an owned partition: priority 0 is the partition itself, 1..9 its
  // priority lanes (FORMAT.md section 1a), each with its own offsets and commit file.
  struct Lane {
    core::OffsetFrontier frontier;
    PartitionReader reader;
    // Shared so that flush() can write it outside mutex_ while close() may drop the lane.
    std::shared_ptr<OffsetFile> offsets;
    std::int64_t committed_on_disk = 0;
    int watch = -1;  // inotify watch of the lane directory
  };
  // A partition this member holds the claim of; the claim covers all its lanes.
  struct Owned {
    PartitionClaim claim;
    std::map<int, Lane, std::greater<>> lanes;  // by priority, highest first; 0 always present
    bool releasing = false;  // another member should have it: drain, commit, release
    std::size_t outstanding() const;
    bool all_committed_on_disk() const;
  };

  void rebalance();                  // takes both locks
  void claim(const TopicPartition& partition);  // requires both locks
  // Requires both locks. Opens lane `priority` of an owned partition at the group's
  // committed position; without one: `fresh_group` (the partition had no position
  // either) starts per start_/`from_start`, otherwise the lane is newer than the
  // group's start and is read from its beginning. The position is written at once.
  void open_lane(const TopicPartition& partition, Owned& owned, int priority, bool fresh_group, bool from_start);
  // Requires both locks. Opens lanes created since the partitions were claimed.
  void open_new_lanes();
  // Writes advanced commit positions and, on the polling thread, releases drained
  // partitions. Takes both locks.
  void flush(bool on_poll_thread);
  // flush(), logging instead of throwing (an ack or poll must not fail on it: the
  // position stays in memory and the next flush writes it).
  void flush_logging_errors(bool on_poll_thread);
  std::vector<core::Record> fetch(std::size_t max);  // the polling thread; takes mutex_
  // Requires mutex_. Marks the record finished; true when that drained a partition
  // being released (the polling thread releases it, woken for it).
  bool finish_locked(const core::Record& record);
  // Sleeps until an event or the timeout; returns true if wakeup() was called.
  bool wait_for_events(std::chrono::milliseconds timeout);
  std::set<TopicPartition> target_assignment();
  bool topic_created_after_join(const std::string& topic) const;

  const std::shared_ptr<EmbeddedEngine> engine_;
  const GroupPaths paths_;
  const std::vector<std::string> subscriptions_;
  const core::TopicFilter filter_;
  const StartPosition start_;
  TimePoint joined_at_{};  // member file's write time (set once, in the constructor)
  const bool durable_commits_;

  std::mutex commit_mutex_;  // offset file writes and releases, in order
  std::mutex mutex_;         // everything below
  std::unique_ptr<MemberRegistration> member_;
  std::map<TopicPartition, Owned> owned_;
  // The entry of the last record finished (consecutive acks mostly come from one
  // partition: one lookup per run). Reset wherever owned_ loses an entry.
  std::pair<const TopicPartition, Owned>* last_finished_ = nullptr;
  std::size_t next_partition_ = 0;  // fetch starts here: fairness across partitions
  File inotify_;
  File wake_event_;
  int topics_watch_ = -1;
  int members_watch_ = -1;
  std::set<int> topic_dir_watches_;  // topic dirs of owned partitions: new lanes appear there
  bool topology_changed_ = true;
  std::chrono::steady_clock::time_point next_rebalance_{};
  // Acked positions not yet written, and when the next write may happen: commits are
  // written at most every commit_interval (subscription.cpp), not once per ack.
  bool commits_pending_ = false;
  bool release_due_ = false;  // a partition drained by an ack waits for the polling thread
  std::chrono::steady_clock::time_point next_flush_{};
  bool closed_ = false;
};

}  // namespace mq::engines::embedded
