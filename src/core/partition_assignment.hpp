// How a consumer group's partitions are split among its members. Every engine that
// assigns partitions itself (memory, embedded) uses this one rule, so that members
// computing it independently (embedded: in different processes) agree.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/topic_pattern.hpp"

namespace mq::core {

struct TopicPartitionCount {
  std::string topic;
  int partitions = 0;
};

using TopicPartition = std::pair<std::string, int>;

// Each partition of `topics` goes to the least-loaded member whose filter matches its
// topic, the earliest member on ties. `members` must be in an order every member agrees
// on (by member id) and `topics` sorted by name, with every topic any member matches:
// leaving out a topic one member does not match would change the others' loads and
// make members disagree. Returns the chosen member's index per assigned partition.
std::map<TopicPartition, std::size_t> assign_partitions(const std::vector<const TopicFilter*>& members,
                                                        const std::vector<TopicPartitionCount>& topics);

}  // namespace mq::core
