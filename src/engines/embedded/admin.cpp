// Admin of the embedded engine: topics and groups as directories (docs/FORMAT.md 1, 5).
#include <fmt/format.h>

#include <map>
#include <utility>

#include "engines/embedded/engine.hpp"
#include "engines/embedded/group_store.hpp"
#include "engines/embedded/partition_reader.hpp"

namespace mq::engines::embedded {

void EmbeddedEngine::create_topic(const std::string& name, const TopicOptions& options) {
  check_open();
  if (options.partitions < 0) {
    throw Error(ErrorCode::invalid_argument, fmt::format("topic '{}': partitions must be >= 0", name));
  }
  TopicSettings settings;
  settings.partitions = options.partitions > 0 ? options.partitions : settings_.default_partitions;
  settings.retention = options.retention;
  settings.retention_bytes = options.retention_bytes;
  if (!create_topic_dir(settings_.dir, name, settings, settings_.log.fsync == FsyncPolicy::always)) {
    throw Error(ErrorCode::already_exists, fmt::format("topic '{}' already exists", name));
  }
}

void EmbeddedEngine::delete_topic(const std::string& name) {
  check_open();
  if (!delete_topic_dir(settings_.dir, name)) {
    throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", name));
  }
  forget_topic(name);
  forget_topic_in_groups(settings_.dir, name);
}

std::vector<TopicInfo> EmbeddedEngine::list_topics() {
  check_open();
  std::vector<TopicInfo> topics;
  for (const auto& name : list_topic_names(settings_.dir)) {
    const auto settings = read_topic_settings(settings_.dir, name);
    if (!settings) continue;  // deleted meanwhile
    TopicInfo info{name, settings->partitions, 0};
    const auto count = [&](const std::string& directory) {
      const auto bounds = read_log_bounds(directory);
      info.messages += static_cast<std::uint64_t>(bounds.end - bounds.start);
    };
    for (int partition = 0; partition < settings->partitions; ++partition) count(settings_.dir.partition(name, partition));
    for (const auto& [partition, priority] : list_lanes(settings_.dir, name)) {
      count(settings_.dir.lane(name, partition, priority));
    }
    topics.push_back(std::move(info));
  }
  return topics;
}

std::vector<std::string> EmbeddedEngine::list_groups() {
  check_open();
  return list_group_names(settings_.dir);
}

GroupInfo EmbeddedEngine::describe_group(const std::string& group) {
  check_open();
  const GroupPaths paths{settings_.dir, group};
  const auto groups = list_group_names(settings_.dir);
  if (!std::binary_search(groups.begin(), groups.end(), group)) {
    throw Error(ErrorCode::not_found, fmt::format("group '{}' does not exist", group));
  }
  GroupInfo info{group, static_cast<int>(live_members(paths).size()), {}};
  // One entry per partition the group has a position in; its priority lanes count
  // towards it: committed and end are then sums over the lanes (counts, not offsets of
  // one log), so that lag = sent - acked still holds. A lane the group has no position
  // in yet (created after its start, not read yet) counts from the lane's start.
  std::map<std::pair<std::string, int>, std::map<int, std::int64_t>> positions;  // -> priority -> committed
  for (const auto& committed : list_committed(paths)) {
    positions[{committed.topic, committed.partition}][committed.priority] = committed.offset;
  }
  std::map<std::string, std::vector<std::pair<int, int>>> lanes_of;  // topic -> its lanes
  for (const auto& [partition, lanes] : positions) {
    if (!lanes.count(0)) continue;  // only a lane position: the partition's own is written first
    if (!lanes_of.count(partition.first)) lanes_of[partition.first] = list_lanes(settings_.dir, partition.first);
    PartitionLag lag{partition.first, partition.second, lanes.at(0),
                     read_log_bounds(settings_.dir.partition(partition.first, partition.second)).end};
    for (const auto& [lane_partition, priority] : lanes_of[partition.first]) {
      if (lane_partition != partition.second) continue;
      const auto bounds = read_log_bounds(settings_.dir.lane(partition.first, partition.second, priority));
      const auto it = lanes.find(priority);
      lag.committed += it != lanes.end() ? it->second : bounds.start;
      lag.end += bounds.end;
    }
    info.partitions.push_back(std::move(lag));
  }
  return info;
}

}  // namespace mq::engines::embedded
