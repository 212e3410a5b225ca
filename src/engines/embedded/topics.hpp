// Topics of a data dir: docs/FORMAT.md sections 1 and 2. Creation and deletion are
// atomic renames, so processes sharing the dir never see half a topic.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engines/embedded/partition_log.hpp"
#include "mq/admin.hpp"

namespace mq::engines::embedded {

// The data dir's fixed layout.
struct DataDir {
  std::string root;
  std::string topics() const { return root + "/topics"; }
  std::string groups() const { return root + "/groups"; }
  std::string delay() const { return root + "/delay"; }
  std::string topic(const std::string& name) const { return topics() + "/" + name; }
  std::string partition(const std::string& name, int partition) const {
    return topic(name) + "/" + std::to_string(partition);
  }
  // Priority lanes (FORMAT.md section 1a): priority 0 is the partition itself, priority
  // 1..9 the hidden partition directory "<p>.p<priority>" beside it.
  std::string lane(const std::string& name, int partition, int priority) const {
    return priority == 0 ? this->partition(name, partition)
                         : this->partition(name, partition) + ".p" + std::to_string(priority);
  }
};

inline constexpr int max_priority = 9;  // lanes 1..9; Message::priority is validated 0..9

// Checks (or, for an empty or missing dir, creates) the FORMAT marker and the top level.
// Throws Error(corruption) for an unknown version or a dir that is not mq's.
void open_data_dir(const DataDir& dir, bool durable);
// Before the tree's first lane: FORMAT becomes version 2, so that a build that knows
// nothing of lanes refuses the tree instead of silently not delivering lane messages.
void require_lane_format(const DataDir& dir, bool durable);

struct TopicSettings {
  int partitions = 0;
  milliseconds retention{0};
  std::uint64_t retention_bytes = 0;
};

// TOPIC of an existing topic, or nullopt when there is none.
std::optional<TopicSettings> read_topic_settings(const DataDir& dir, const std::string& name);
// Creates the topic atomically. Returns false (and changes nothing) when it exists.
bool create_topic_dir(const DataDir& dir, const std::string& name, const TopicSettings& settings, bool durable);
// Renames the topic away, then removes it. Returns false when it does not exist.
bool delete_topic_dir(const DataDir& dir, const std::string& name);
// Names of the topics present, sorted.
std::vector<std::string> list_topic_names(const DataDir& dir);
// Creates the lane directory of (topic, partition, priority 1..9) atomically unless it
// exists. Throws Error(not_found) when the topic does not exist (deleted meanwhile).
void create_lane_dir(const DataDir& dir, const std::string& topic, int partition, int priority, bool durable);
// The lanes present of a topic, as (partition, priority), sorted.
std::vector<std::pair<int, int>> list_lanes(const DataDir& dir, const std::string& topic);

// One topic as this process writes it: its partition logs, opened on first use.
// Thread-safe.
class TopicWriter {
 public:
  TopicWriter(const DataDir& dir, std::string name, const TopicSettings& settings, LogOptions options);

  const std::string& name() const { return name_; }
  int partitions() const { return settings_.partitions; }
  // The log of a partition's lane (0: the partition itself); a lane 1..9 is created on
  // first use. Throws Error(not_found) if the topic was deleted.
  PartitionLog& log(int partition, int priority = 0);
  // Keyless messages stick to one partition while other keyless appends to the topic
  // are in flight, for up to keyless_run_messages; an append written with none in
  // flight beside it moves them on to the next partition (Kafka's sticky partitioner,
  // KIP-480, adapted). So sends at a low rate go round-robin one by one, a send_batch
  // stays in one partition (one write), and under load concurrent senders meet in one
  // partition's writer queue and share its write and its fdatasync. Spread one by one
  // instead, 64 producers with fsync `always` split into four queues whose fdatasyncs
  // the disk ran one after another, each carrying a quarter of the messages.
  //
  // begin_keyless() returns the partition for one append's keyless messages; the
  // caller must call end_keyless() with it and their count once the append is written.
  int begin_keyless() {
    keyless_in_flight_.fetch_add(1, std::memory_order_relaxed);
    return keyless_partition_.load(std::memory_order_relaxed);
  }
  void end_keyless(int partition, std::size_t messages) {
    const bool alone = keyless_in_flight_.fetch_sub(1, std::memory_order_relaxed) == 1;
    const bool run_over = keyless_run_.fetch_add(messages, std::memory_order_relaxed) + messages >= keyless_run_messages;
    if (!alone && !run_over) return;
    int expected = partition;  // already moved on by another append: leave it
    if (keyless_partition_.compare_exchange_strong(expected, (partition + 1) % settings_.partitions,
                                                   std::memory_order_relaxed)) {
      keyless_run_.store(0, std::memory_order_relaxed);
    }
  }
  static constexpr std::size_t keyless_run_messages = 1024;
  // The logs opened so far (for the interval fsync and retention).
  std::vector<PartitionLog*> open_logs();

 private:
  const DataDir dir_;
  const std::string name_;
  const TopicSettings settings_;
  const LogOptions options_;
  std::mutex mutex_;
  // index = partition * (max_priority + 1) + priority; null until used
  std::vector<std::unique_ptr<PartitionLog>> logs_;
  std::atomic<int> keyless_partition_{0};
  std::atomic<int> keyless_in_flight_{0};
  std::atomic<std::size_t> keyless_run_{0};  // messages sent to keyless_partition_ since it was chosen
};

}  // namespace mq::engines::embedded
