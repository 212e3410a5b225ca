// The Redis engine's RetryStore (core/engine.hpp; retry.cpp has the key layout).
//
// find() runs for every fresh delivery, so it must not cost a round trip: each group's
// entries are cached in the process. The engine's background thread brings the caches
// of groups looked up in the last kIdle up to date every tick (redis.mover_interval,
// 20 ms) with one small script call per group that returns the hash only when its
// version changed. A group's first lookup reads the hash at once. So a retry saved by
// another process less than a tick before its redelivery here may be missed: the
// delivery then counts as attempt 1 (at-least-once holds, as with the embedded
// engine's files). save() and erase() write through and update the cache.
//
// Thread-safety: every method may be called from any thread; mutex_ guards the caches
// and is never held across a round trip.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/engine.hpp"
#include "engines/redis/connection.hpp"

namespace mq::engines::redis {

class RedisEngine;

class RedisRetryStore final : public core::RetryStore {
 public:
  static constexpr std::chrono::seconds kIdle{10};

  explicit RedisRetryStore(RedisEngine& engine) : engine_(engine) {}

  void save(const std::string& group, const std::string& id, const Entry& entry) override;
  std::optional<Entry> find(const std::string& group, const std::string& id) override;
  void erase(const std::string& group, const std::string& id) override;

  // Background thread: refreshes the caches of recently used groups. Throws on
  // connection failure.
  void refresh_all(Connection& connection);

 private:
  struct Cache {
    bool loaded = false;   // entries match `version` (or newer local writes)
    std::string version;   // the server's version when entries were read
    std::unordered_map<std::string, Entry> entries;
    std::uint64_t local_writes = 0;  // saves and erases by this process
    std::chrono::steady_clock::time_point used{};  // last find()
  };
  void refresh(Connection& connection, const std::string& group);

  RedisEngine& engine_;
  std::mutex mutex_;
  std::unordered_map<std::string, Cache> groups_;
};

std::shared_ptr<RedisRetryStore> make_retry_store(RedisEngine& engine);

}  // namespace mq::engines::redis
