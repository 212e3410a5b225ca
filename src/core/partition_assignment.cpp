#include "core/partition_assignment.hpp"

namespace mq::core {

std::map<TopicPartition, std::size_t> assign_partitions(const std::vector<const TopicFilter*>& members,
                                                        const std::vector<TopicPartitionCount>& topics) {
  std::map<TopicPartition, std::size_t> assignment;
  std::vector<std::size_t> load(members.size(), 0);
  std::vector<std::size_t> matching;
  for (const auto& [topic, partitions] : topics) {
    matching.clear();
    for (std::size_t m = 0; m < members.size(); ++m) {
      if (members[m]->matches(topic)) matching.push_back(m);
    }
    if (matching.empty()) continue;
    for (int partition = 0; partition < partitions; ++partition) {
      std::size_t chosen = matching.front();
      for (auto m : matching) {
        if (load[m] < load[chosen]) chosen = m;
      }
      ++load[chosen];
      assignment.emplace(TopicPartition{topic, partition}, chosen);
    }
  }
  return assignment;
}

}  // namespace mq::core
