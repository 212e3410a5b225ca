#include "core/dedup_store.hpp"

namespace mq::core {

using SteadyClock = std::chrono::steady_clock;

InProcessDedupStore::Key InProcessDedupStore::key_of(const std::string& group, const std::string& id) {
  Key key;
  key.reserve(group.size() + 1 + id.size());
  key.append(group).push_back('\0');
  key.append(id);
  return key;
}

DedupStore::Claim InProcessDedupStore::claim(const std::string& group, const std::string& id, milliseconds lease) {
  const auto now = SteadyClock::now();
  std::lock_guard lock(mutex_);
  Key key = key_of(group, id);
  auto found = entries_.find(key);
  if (found != entries_.end() && found->second.expires > now) return found->second.done ? Claim::done : Claim::busy;
  if (found != entries_.end()) {
    found->second = Entry{false, now + lease};
    return Claim::acquired;
  }
  evict_locked();  // before inserting: eviction must never take the new entry
  insertion_order_.push_back(key);
  entries_.emplace(std::move(key), Entry{false, now + lease});
  return Claim::acquired;
}

void InProcessDedupStore::complete(const std::string& group, const std::string& id, milliseconds window) {
  std::lock_guard lock(mutex_);
  const Entry done{true, SteadyClock::now() + window};
  Key key = key_of(group, id);
  if (auto found = entries_.find(key); found != entries_.end()) {
    found->second = done;
    return;
  }
  evict_locked();  // it was evicted while the handler ran: remember it again
  insertion_order_.push_back(key);
  entries_.emplace(std::move(key), done);
}

void InProcessDedupStore::release(const std::string& group, const std::string& id) {
  std::lock_guard lock(mutex_);
  auto found = entries_.find(key_of(group, id));
  if (found != entries_.end() && !found->second.done) entries_.erase(found);
}

void InProcessDedupStore::evict_locked() {
  const auto now = SteadyClock::now();
  while (!insertion_order_.empty()) {
    auto found = entries_.find(insertion_order_.front());
    const bool stale = found == entries_.end();
    const bool expired = !stale && found->second.expires <= now;
    if (!stale && !expired && entries_.size() < max_entries_) return;  // room for one more
    if (!stale) entries_.erase(found);
    insertion_order_.pop_front();
  }
}

}  // namespace mq::core
