// Group membership for memory://: who owns which partition, fetching and acks.
//
// Ownership moves cooperatively: when the target assignment gives a partition to
// another member, the current owner stops fetching from it and releases it only once
// every record it delivered from it has been acked. The new owner then starts at the
// committed offset, so no message is handled by two members of a group.
#include <fmt/format.h>

#include <algorithm>

#include "core/partition_assignment.hpp"
#include "engines/memory/engine.hpp"

namespace mq::engines::memory {

const std::map<TopicPartition, std::uint64_t>& Broker::target_assignment(Group& group) {
  if (group.target_version == topology_version) return group.target;
  std::vector<const core::TopicFilter*> filters;
  std::vector<std::uint64_t> ids;  // group.members is ordered by id: the agreed order
  for (const auto& [id, member] : group.members) {
    filters.push_back(&member->filter);
    ids.push_back(id);
  }
  std::vector<core::TopicPartitionCount> counts;
  for (const auto& [name, topic] : topics) counts.push_back({name, static_cast<int>(topic.partitions.size())});
  group.target.clear();
  for (const auto& [partition, index] : core::assign_partitions(filters, counts)) {
    group.target.emplace(partition, ids[index]);
  }
  group.target_version = topology_version;
  return group.target;
}

void Broker::release_if_drained(Group& group, Member& member, const TopicPartition& partition) {
  auto owned = member.owned.find(partition);
  if (owned == member.owned.end() || owned->second.outstanding() != 0) return;
  const auto& target = target_assignment(group);
  if (auto it = target.find(partition); it != target.end() && it->second == member.id) return;
  group.committed[partition] = owned->second.committed();
  member.owned.erase(owned);
  group.owner.erase(partition);
  changed.notify_all();  // the next owner may be waiting
}

void Broker::rebalance(Group& group, Member& member) {
  const auto& target = target_assignment(group);
  std::vector<TopicPartition> owned;
  for (const auto& [partition, frontier] : member.owned) owned.push_back(partition);
  for (const auto& partition : owned) release_if_drained(group, member, partition);
  for (const auto& [partition, id] : target) {
    if (id != member.id || group.owner.count(partition)) continue;
    std::int64_t position = 0;
    if (auto committed = group.committed.find(partition); committed != group.committed.end()) {
      position = committed->second;
    } else {
      const auto& topic = topics.at(partition.first);
      const auto& log = topic.partitions[static_cast<std::size_t>(partition.second)].log;
      // A topic created after the member joined holds only messages newer than the
      // subscription: "latest" means all of them (else a pattern subscriber would miss
      // the first messages of every new topic).
      const bool from_start = member.start == StartPosition::earliest || topic.created_version > member.joined_version;
      position = from_start ? 0 : static_cast<std::int64_t>(log.size());
      // Fix the start for the whole group: a later member taking this partition over
      // must not start at a different "latest".
      group.committed[partition] = position;
    }
    group.owner[partition] = member.id;
    member.owned.emplace(partition, core::OffsetFrontier(position));
  }
}

namespace {

class MemorySubscription final : public core::Subscription {
 public:
  MemorySubscription(std::shared_ptr<Broker> broker, const core::SubscriptionSpec& spec)
      : broker_(std::move(broker)), group_name_(spec.group) {
    member_.filter = core::TopicFilter(spec.topics);
    member_.start = spec.start;
    std::lock_guard lock(broker_->mutex);
    group_ = &broker_->groups[group_name_];
    member_.id = broker_->next_member_id++;
    group().members[member_.id] = &member_;
    member_.joined_version = ++broker_->topology_version;
    broker_->changed.notify_all();
  }

  ~MemorySubscription() override { close(); }

  std::vector<core::Record> poll(std::size_t max, std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(broker_->mutex);
    while (!closed_) {
      broker_->rebalance(group(), member_);
      auto records = fetch(max);
      if (!records.empty() || member_.woken) {
        member_.woken = false;
        return records;
      }
      if (broker_->changed.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    return {};
  }

  void ack(const core::Record& record) override {
    const TopicPartition partition{record.message.topic, record.message.partition};
    std::lock_guard lock(broker_->mutex);
    if (closed_) return;
    auto owned = member_.owned.find(partition);
    if (owned == member_.owned.end()) return;  // the topic was deleted meanwhile
    Group& current = group();
    if (owned->second.finished(record.message.offset)) current.committed[partition] = owned->second.committed();
    if (owned->second.outstanding() == 0) broker_->release_if_drained(current, member_, partition);
  }

  void wakeup() override {
    {
      std::lock_guard lock(broker_->mutex);
      member_.woken = true;
    }
    broker_->changed.notify_all();
  }

  void close() override {
    std::lock_guard lock(broker_->mutex);
    if (closed_) return;
    closed_ = true;
    Group& current = group();
    // Offsets were committed as acks arrived; what is still open is given back.
    for (const auto& [partition, frontier] : member_.owned) {
      current.committed[partition] = frontier.committed();
      current.owner.erase(partition);
    }
    member_.owned.clear();
    current.members.erase(member_.id);
    ++broker_->topology_version;
    broker_->changed.notify_all();
  }

 private:
  // Requires the broker mutex. Broker::groups never erases a group (std::map keeps
  // element addresses), so the pointer taken at construction stays valid: acks and
  // polls skip a map lookup by name.
  Group& group() { return *group_; }

  // Requires the broker mutex. Takes records from owned partitions round-robin,
  // skipping partitions that are being handed to another member.
  std::vector<core::Record> fetch(std::size_t max) {
    std::vector<core::Record> records;
    const auto& target = group().target;
    std::vector<std::pair<const TopicPartition*, core::OffsetFrontier*>> sources;
    for (auto& [partition, frontier] : member_.owned) {
      auto it = target.find(partition);
      if (it != target.end() && it->second == member_.id) sources.emplace_back(&partition, &frontier);
    }
    if (sources.empty()) return records;
    std::vector<const MessageLog*> logs;
    logs.reserve(sources.size());
    std::size_t available = 0;
    for (auto [partition, frontier] : sources) {
      logs.push_back(&broker_->topics.at(partition->first).partitions[static_cast<std::size_t>(partition->second)].log);
      const auto next = static_cast<std::size_t>(frontier->next());
      if (logs.back()->size() > next) available += logs.back()->size() - next;
    }
    records.reserve(std::min(max, available));  // one allocation per fetch
    const std::size_t start = member_.next_partition++ % sources.size();
    for (std::size_t i = 0; i < sources.size() && records.size() < max; ++i) {
      const std::size_t source = (start + i) % sources.size();
      auto* frontier = sources[source].second;
      const auto& log = *logs[source];
      for (auto offset = frontier->next(); offset < static_cast<std::int64_t>(log.size()) && records.size() < max;
           ++offset) {
        frontier->delivered(offset);
        records.emplace_back(log[static_cast<std::size_t>(offset)], 0);  // the one copy of the message
      }
    }
    return records;
  }

  const std::shared_ptr<Broker> broker_;
  const std::string group_name_;
  Group* group_ = nullptr;  // broker_->groups[group_name_], set once under the mutex
  Member member_;
  bool closed_ = false;  // guarded by the broker mutex
};

}  // namespace

std::unique_ptr<core::Subscription> MemoryEngine::subscribe(const core::SubscriptionSpec& spec) {
  if (closed_) throw Error(ErrorCode::closed, "memory engine is closed");
  return std::make_unique<MemorySubscription>(broker_, spec);
}

}  // namespace mq::engines::memory
