// memory:// — in-process topics and groups, nothing on disk.
//
// For unit tests of user code and as the reference implementation of the engine
// contract. All Clients of one process that open the same memory://NAME share one
// Broker (so producers and consumers made by different Clients meet); the Broker lives
// while any of them is open. Data is lost when the process exits.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/engine.hpp"
#include "core/offset_frontier.hpp"
#include "core/partition_assignment.hpp"
#include "core/timer_queue.hpp"
#include "core/topic_pattern.hpp"

namespace mq::engines::memory {

using core::TopicPartition;

// What a partition keeps of a message: what a consumer gets back and the partition
// does not know already (topic, partition, offset and priority follow from where it is
// stored). The common message (no key, an id made by mq: 36 characters) is 104 bytes
// plus its value, with no allocation of its own besides its headers' shared block; a key
// or another id lives in `extra_`. A small record means fewer fresh pages per stored message (the kernel zeroes
// each) and lets the producer's id string move on into the receipt instead of a copy.
class StoredMessage {
 public:
  // Takes value, key and headers from `message`; copies the id (moves it when it is
  // not 36 characters long). The caller may still use topic and id afterwards.
  explicit StoredMessage(Message& message);
  // The message as delivered: everything stored plus where it was stored.
  Message load(const std::string& topic, int partition, int priority, std::int64_t offset) const;

 private:
  struct Extra {
    std::optional<std::string> key;
    std::string id;  // when not inline
  };
  static constexpr std::size_t inline_id_size = 36;  // a UUID in text (core's ids)

  std::string value_;
  TimePoint timestamp_;
  std::unique_ptr<Extra> extra_;  // null: no key, inline id
  // The headers as one immutable block (null: none): every delivery shares it rather
  // than copying each name and value, and messages sent together with the same headers
  // (a traced batch) share one block already.
  Headers::Shared headers_;
  std::array<char, inline_id_size> id_{};
  bool inline_id_ = false;
};

// A partition's messages, offset == index (no retention in memory). Stored in chunks
// of fixed capacity: appending never moves earlier messages (a std::vector regrowing
// to a million messages moves each of them about twice and churns big allocations),
// and indexing stays O(1). Guarded by the broker mutex like everything else.
class MessageLog {
 public:
  std::size_t size() const { return size_; }
  const StoredMessage& operator[](std::size_t offset) const { return chunks_[offset / chunk_size][offset % chunk_size]; }
  // Stores `message` (see StoredMessage: topic and id stay usable).
  void push_back(Message& message) {
    if (size_ % chunk_size == 0) chunks_.emplace_back().reserve(chunk_size);
    chunks_.back().emplace_back(message);
    ++size_;
  }

 private:
  static constexpr std::size_t chunk_size = 4096;
  std::vector<std::vector<StoredMessage>> chunks_;  // each holds chunk_size, the last one up to it
  std::size_t size_ = 0;
};


// Priority lanes: priority 0 is `log`; each priority 1..9 has a log of its own with its
// own offsets (lanes[p - 1]), read before lower ones. A partition that never saw a
// priority keeps top == 0 and costs nothing extra on either path.
struct Partition {
  MessageLog log;  // offset == index (no retention in memory)
  std::array<MessageLog, 9> lanes;
  int top = 0;  // highest priority appended so far

  MessageLog& lane(int priority) { return priority == 0 ? log : lanes[static_cast<std::size_t>(priority - 1)]; }
  const MessageLog& lane(int priority) const {
    return priority == 0 ? log : lanes[static_cast<std::size_t>(priority - 1)];
  }
};

struct Topic {
  std::vector<Partition> partitions;
  std::uint64_t created_version = 0;  // Broker::topology_version when it was created
};

// Committed positions of one partition's priority lanes 1..9 (index p - 1); a lane the
// group has no position for starts at 0 (it was created after the group's start).
using LanePositions = std::array<std::int64_t, 9>;

// What a member tracks of a partition it owns: one frontier per lane (Record::token
// names the lane of a delivered record).
struct OwnedPartition {
  core::OffsetFrontier base;                // priority 0
  std::vector<core::OffsetFrontier> lanes;  // lanes[p - 1]: priority p; grown when first read

  core::OffsetFrontier& lane(int priority) {
    return priority == 0 ? base : lanes[static_cast<std::size_t>(priority - 1)];
  }
  std::size_t outstanding() const {
    std::size_t total = base.outstanding();
    for (const auto& lane : lanes) total += lane.outstanding();
    return total;
  }
};

// One member's view of the partitions it owns.
struct Member {
  std::uint64_t id = 0;
  core::TopicFilter filter;
  StartPosition start = StartPosition::latest;
  std::map<TopicPartition, OwnedPartition> owned;
  std::size_t next_partition = 0;  // round-robin start for fairness across partitions
  std::uint64_t joined_version = 0;  // Broker::topology_version when it joined
  bool woken = false;              // wakeup() was called
  // Bumped whenever an entry of `owned` (or the group's committed entry of one) is
  // erased: pointers into them cached by the subscription are stale after a change.
  std::uint64_t owned_epoch = 0;
};

struct Group {
  std::map<TopicPartition, std::int64_t> committed;  // priority 0
  std::map<TopicPartition, LanePositions> lane_committed;
  std::map<std::uint64_t, Member*> members;
  std::map<TopicPartition, std::uint64_t> owner;  // who holds each partition now
  // Who should hold each partition, computed for Broker::topology_version.
  std::map<TopicPartition, std::uint64_t> target;
  std::uint64_t target_version = ~0ull;
};

// All state of one memory://NAME. One mutex guards everything: appends take it once per
// batch, polls once per fetch, which is cheap next to copying the messages.
class Broker {
 public:
  explicit Broker(int default_partitions) : default_partitions_(default_partitions) {}

  std::mutex mutex;
  std::condition_variable changed;  // data appended, partition released, member left
  std::map<std::string, Topic> topics;
  std::map<std::string, Group> groups;
  std::uint64_t next_member_id = 1;
  std::uint64_t topology_version = 0;  // bumped when topics or members change

  // Requires `mutex`. Creates the topic when missing if `create` (else nullptr).
  Topic* find_topic(const std::string& name, bool create, int partitions = 0);
  // Requires `mutex`. Gives `member` the partitions it should own and releases those
  // it should give up (only once nothing delivered from them is open).
  void rebalance(Group& group, Member& member);
  // Requires `mutex`. Releases `partition` if `member` owns it, should not, and has
  // nothing open from it.
  void release_if_drained(Group& group, Member& member, const TopicPartition& partition);
  // Requires `mutex`. Stores the commit positions of every lane of `owned`.
  static void commit(Group& group, const TopicPartition& partition, const OwnedPartition& owned);

 private:
  // Requires `mutex`. Group::target, recomputed when the topology changed.
  const std::map<TopicPartition, std::uint64_t>& target_assignment(Group& group);
  const int default_partitions_;
};

class MemoryEngine final : public core::Engine {
 public:
  MemoryEngine(std::shared_ptr<Broker> broker, const Config& config);
  ~MemoryEngine() override;

  const core::Capabilities& capabilities() const override { return capabilities_; }
  void append(std::vector<core::Envelope> batch, Acks acks, core::AppendCallback done) override;
  std::unique_ptr<core::Subscription> subscribe(const core::SubscriptionSpec& spec) override;
  void create_topic(const std::string& name, const TopicOptions& options) override;
  void delete_topic(const std::string& name) override;
  std::vector<TopicInfo> list_topics() override;
  std::vector<std::string> list_groups() override;
  GroupInfo describe_group(const std::string& group) override;
  void close() override;

 private:
  // Requires the broker mutex. The message's topic, created if allowed; nullptr if not.
  Topic* topic_for_append(const std::string& name);
  // Appends one message that is due now to `topic` (from topic_for_append: a batch is
  // mostly one topic, looked up once); requires the broker mutex. Consumes `message`
  // (its fields move into the log and the receipt).
  core::AppendResult append_locked(Message& message, Topic* topic);

  const std::shared_ptr<Broker> broker_;
  const core::Capabilities capabilities_;
  const bool auto_create_;
  const int default_partitions_;
  std::uint64_t round_robin_ = 0;  // spreads keyless messages; guarded by broker mutex
  std::atomic<bool> closed_{false};
  core::TimerQueue delayed_;        // delayed messages wait here (not durable)
};

}  // namespace mq::engines::memory
