#include "core/dedup_store.hpp"

#include <algorithm>
#include <functional>

namespace mq::core {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Below this many entries per shard a store keeps one shard: small stores keep an
// exact global "oldest first", and their cost is not in the lock.
constexpr std::size_t min_entries_per_shard = 4096;
constexpr std::size_t max_shards = 16;

}  // namespace

InProcessDedupStore::InProcessDedupStore(std::size_t max_entries)
    : shard_count_(std::clamp<std::size_t>(max_entries / min_entries_per_shard, 1, max_shards)),
      shards_(std::make_unique<Shard[]>(shard_count_)) {
  max_per_shard_ = std::max<std::size_t>(max_entries / shard_count_, 1);
}

InProcessDedupStore::Shard& InProcessDedupStore::shard_for(const std::string& id) {
  if (shard_count_ == 1) return shards_[0];
  return shards_[std::hash<std::string_view>{}(id) % shard_count_];
}

InProcessDedupStore::Ids& InProcessDedupStore::ids_of(Shard& shard, const std::string& group) {
  auto found = shard.groups.find(group);
  if (found != shard.groups.end()) return found->second;
  return shard.groups.emplace(group, Ids{}).first->second;
}

void InProcessDedupStore::record_and_evict_locked(Shard& shard, Ids& ids, Ids::value_type& inserted,
                                                  TimePoint now) {
  shard.order.emplace_back(&ids, &inserted);
  ++shard.size;
  while (shard.order.size() > 1) {
    auto [owner, entry] = shard.order.front();
    if (entry->second.expires > now && shard.size <= max_per_shard_) break;
    shard.order.pop_front();
    owner->erase(owner->find(entry->first));  // by iterator: the key lives in the node erased
    --shard.size;
  }
}

DedupStore::Claim InProcessDedupStore::claim(const std::string& group, const std::string& id, milliseconds lease) {
  const auto now = SteadyClock::now();
  Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  Ids& ids = ids_of(shard, group);
  auto [found, inserted] = ids.try_emplace(id, Entry{false, now + lease});  // one lookup either way
  if (inserted) {
    record_and_evict_locked(shard, ids, *found, now);
    return Claim::acquired;
  }
  if (found->second.expires > now) return found->second.done ? Claim::done : Claim::busy;
  found->second = Entry{false, now + lease};  // keeps its place in the order
  return Claim::acquired;
}

void InProcessDedupStore::complete(const std::string& group, const std::string& id, milliseconds window) {
  const auto now = SteadyClock::now();
  const Entry done{true, now + window};
  Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  Ids& ids = ids_of(shard, group);
  auto [found, inserted] = ids.try_emplace(id, done);
  if (inserted) {
    record_and_evict_locked(shard, ids, *found, now);  // evicted while the handler ran: remember it again
    return;
  }
  found->second = done;
}

void InProcessDedupStore::release(const std::string& group, const std::string& id) {
  Shard& shard = shard_for(id);
  std::lock_guard lock(shard.mutex);
  Ids& ids = ids_of(shard, group);
  auto found = ids.find(id);
  // The claim ends now; the entry itself goes when eviction reaches it (its record in
  // the order must not dangle).
  if (found != ids.end() && !found->second.done) found->second.expires = TimePoint::min();
}

}  // namespace mq::core
