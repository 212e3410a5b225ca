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

void Broker::commit(Group& group, const TopicPartition& partition, const OwnedPartition& owned) {
  group.committed[partition] = owned.base.committed();
  if (owned.lanes.empty()) return;
  auto& positions = group.lane_committed[partition];  // zeros for a new entry
  for (std::size_t i = 0; i < owned.lanes.size(); ++i) positions[i] = owned.lanes[i].committed();
}

void Broker::release_if_drained(Group& group, Member& member, const TopicPartition& partition) {
  auto owned = member.owned.find(partition);
  if (owned == member.owned.end() || owned->second.outstanding() != 0) return;
  const auto& target = target_assignment(group);
  if (auto it = target.find(partition); it != target.end() && it->second == member.id) return;
  commit(group, partition, owned->second);
  member.owned.erase(owned);
  ++member.owned_epoch;
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
      const auto& stored = topic.partitions[static_cast<std::size_t>(partition.second)];
      // A topic created after the member joined holds only messages newer than the
      // subscription: "latest" means all of them (else a pattern subscriber would miss
      // the first messages of every new topic).
      const bool from_start = member.start == StartPosition::earliest || topic.created_version > member.joined_version;
      position = from_start ? 0 : static_cast<std::int64_t>(stored.log.size());
      // Fix the start for the whole group: a later member taking this partition over
      // must not start at a different "latest". Lanes too; a lane with no position
      // later was created after this and starts at 0.
      group.committed[partition] = position;
      if (!from_start && stored.top > 0) {
        auto& positions = group.lane_committed[partition];
        for (int p = 1; p <= stored.top; ++p) positions[static_cast<std::size_t>(p - 1)] = std::ssize(stored.lane(p));
      }
    }
    group.owner[partition] = member.id;
    member.owned.emplace(partition, OwnedPartition{core::OffsetFrontier(position), {}});
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
    std::lock_guard lock(broker_->mutex);
    if (closed_) return;
    if (!find_ack_target(record.message.topic, record.message.partition)) return;  // topic deleted meanwhile
    Group& current = group();
    OwnedPartition& owned = *ack_target_.owned;
    const int priority = static_cast<int>(record.token);  // the lane fetch() read it from
    // A lane this ownership never read: the record came from an earlier one (the topic
    // was deleted and made again meanwhile).
    if (priority > 0 && owned.lanes.size() < static_cast<std::size_t>(priority)) return;
    auto& frontier = owned.lane(priority);
    if (frontier.finished(record.message.offset)) {
      if (priority == 0) *ack_target_.committed = frontier.committed();
      else current.lane_committed[*ack_target_.partition][static_cast<std::size_t>(priority - 1)] = frontier.committed();
    }
    if (owned.outstanding() == 0) {
      const TopicPartition partition = *ack_target_.partition;  // release may erase the cached entry
      broker_->release_if_drained(current, member_, partition);
    }
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
    for (const auto& [partition, owned] : member_.owned) {
      Broker::commit(current, partition, owned);
      current.owner.erase(partition);
    }
    member_.owned.clear();
    ++member_.owned_epoch;
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
  // skipping partitions that are being handed to another member; higher priority lanes
  // of every partition first (Record::token = the lane).
  std::vector<core::Record> fetch(std::size_t max) {
    std::vector<core::Record> records;
    const auto& target = group().target;
    struct Source {
      const TopicPartition* partition;
      OwnedPartition* owned;
      const Partition* stored;
    };
    std::vector<Source> sources;
    int top = 0;
    for (auto& [partition, owned] : member_.owned) {
      auto it = target.find(partition);
      if (it == target.end() || it->second != member_.id) continue;
      const auto& stored = broker_->topics.at(partition.first).partitions[static_cast<std::size_t>(partition.second)];
      sources.push_back(Source{&partition, &owned, &stored});
      top = std::max(top, stored.top);
    }
    if (sources.empty()) return records;
    std::size_t available = 0;  // priority 0's backlog: lanes are the rare case
    for (const auto& source : sources) {
      const auto next = static_cast<std::size_t>(source.owned->lane(0).next());
      if (source.stored->log.size() > next) available += source.stored->log.size() - next;
    }
    records.reserve(std::min(max, available));  // one allocation per fetch, usually
    const std::size_t start = member_.next_partition++ % sources.size();
    for (int priority = top; priority >= 0 && records.size() < max; --priority) {
      for (std::size_t i = 0; i < sources.size() && records.size() < max; ++i) {
        auto& source = sources[(start + i) % sources.size()];
        if (priority > source.stored->top) continue;
        if (priority > 0 && source.owned->lanes.size() < static_cast<std::size_t>(priority)) {
          grow_lanes(*source.partition, *source.owned, priority);
        }
        auto& frontier = source.owned->lane(priority);
        const auto& log = source.stored->lane(priority);
        for (auto offset = frontier.next(); offset < std::ssize(log) && records.size() < max; ++offset) {
          frontier.delivered(offset);
          records.emplace_back(log[static_cast<std::size_t>(offset)].load(source.partition->first,
                                                                          source.partition->second, priority, offset),
                               static_cast<std::uint64_t>(priority));  // the one copy
        }
      }
    }
    return records;
  }

  // Requires the broker mutex. Frontiers for lanes up to `priority`, at the group's
  // committed position (0 for a lane the group has none for: created after its start).
  void grow_lanes(const TopicPartition& partition, OwnedPartition& owned, int priority) {
    const auto& lanes = group().lane_committed;
    const auto positions = lanes.find(partition);
    while (owned.lanes.size() < static_cast<std::size_t>(priority)) {
      const std::size_t index = owned.lanes.size();
      owned.lanes.emplace_back(positions == lanes.end() ? 0 : positions->second[index]);
    }
  }

  // Requires the broker mutex. Points ack_target_ at the owned partition (and the
  // group's committed entry for it); false if this member does not own it. Acks come
  // in runs of one partition, so the last answer is usually still right: reused while
  // Member::owned_epoch is unchanged (nothing erased), which saves two map lookups and
  // a key copy per ack.
  bool find_ack_target(const std::string& topic, int partition) {
    if (ack_target_.owned && ack_target_.epoch == member_.owned_epoch && ack_target_.partition->second == partition &&
        ack_target_.partition->first == topic) {
      return true;
    }
    auto owned = member_.owned.find(TopicPartition{topic, partition});
    if (owned == member_.owned.end()) return false;
    // rebalance() sets the committed entry before taking a partition: this finds it.
    ack_target_ = AckTarget{member_.owned_epoch, &owned->first, &owned->second, &group().committed[owned->first]};
    return true;
  }

  struct AckTarget {
    std::uint64_t epoch = 0;
    const TopicPartition* partition = nullptr;  // key of member_.owned
    OwnedPartition* owned = nullptr;            // null: nothing cached
    std::int64_t* committed = nullptr;          // group().committed[*partition]
  };

  const std::shared_ptr<Broker> broker_;
  const std::string group_name_;
  AckTarget ack_target_;  // guarded by the broker mutex
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
