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
  // Keyless messages spread round-robin over the partitions.
  int next_round_robin() { return static_cast<int>(round_robin_++ % static_cast<unsigned>(settings_.partitions)); }
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
  std::atomic<unsigned> round_robin_{0};
};

}  // namespace mq::engines::embedded
