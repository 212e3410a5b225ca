// The in-process DedupStore (engine.hpp): for engines without a store of their own.
// Claims are seen by this process only, so two processes of one group may both
// process a duplicate; engines shared by processes provide their own store.
//
// Bounded: past max_entries the oldest entries are forgotten first (an id forgotten
// early may be processed again — at-least-once, never lost). Large stores are split
// into shards by id hash, each with its own lock and an equal share of the bound, so
// that workers do not queue on one mutex; "oldest first" then holds per shard.
// Lookups allocate nothing. Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/engine.hpp"

namespace mq::core {

class InProcessDedupStore final : public DedupStore {
 public:
  explicit InProcessDedupStore(std::size_t max_entries);

  Claim claim(const std::string& group, const std::string& id, milliseconds lease) override;
  void complete(const std::string& group, const std::string& id, milliseconds window) override;
  void release(const std::string& group, const std::string& id) override;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Entry {
    bool done = false;
    TimePoint expires;  // a released claim expires at once (TimePoint::min())
  };
  // One group's ids. Nodes are never erased except by eviction, which goes through
  // Shard::order: every entry has exactly one record there.
  using Ids = std::unordered_map<std::string, Entry>;
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Ids> groups;  // never erased: Ids addresses stay valid
    // Insertion order: (group, the entry inside it). Elements of unordered_map nodes
    // keep their address across rehashing.
    std::deque<std::pair<Ids*, Ids::value_type*>> order;
    std::size_t size = 0;  // entries in all groups of this shard
  };

  Shard& shard_for(const std::string& id);
  // Requires shard.mutex. The group's ids, created on first use.
  static Ids& ids_of(Shard& shard, const std::string& group);
  // Requires shard.mutex. Records a just-inserted entry, then forgets from the oldest:
  // expired entries, and live ones past the bound (never the entry just recorded).
  void record_and_evict_locked(Shard& shard, Ids& ids, Ids::value_type& inserted, TimePoint now);

  std::size_t max_per_shard_;
  std::size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace mq::core
