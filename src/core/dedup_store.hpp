// The in-process DedupStore (engine.hpp): for engines without a store of their own.
// Claims are seen by this process only, so two processes of one group may both
// process a duplicate; engines shared by processes provide their own store.
//
// Bounded: past max_entries the oldest entries are forgotten first (an id forgotten
// early may be processed again — at-least-once, never lost). Thread-safe.
#pragma once

#include <deque>
#include <unordered_map>
#include <mutex>
#include <string>

#include "core/engine.hpp"

namespace mq::core {

class InProcessDedupStore final : public DedupStore {
 public:
  explicit InProcessDedupStore(std::size_t max_entries) : max_entries_(max_entries) {}

  Claim claim(const std::string& group, const std::string& id, milliseconds lease) override;
  void complete(const std::string& group, const std::string& id, milliseconds window) override;
  void release(const std::string& group, const std::string& id) override;

 private:
  struct Entry {
    bool done = false;
    std::chrono::steady_clock::time_point expires;
  };
  using Key = std::string;  // group, NUL, id (names cannot hold a NUL)
  static Key key_of(const std::string& group, const std::string& id);
  void evict_locked();

  const std::size_t max_entries_;
  std::mutex mutex_;
  std::unordered_map<Key, Entry> entries_;
  std::deque<Key> insertion_order_;  // may name entries already erased
};

}  // namespace mq::core
