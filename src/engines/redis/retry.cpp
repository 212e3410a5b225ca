// RetryStore on Redis (core/engine.hpp): a retry a consumer scheduled survives the
// consumer's restart, and another member that takes the message over continues its
// attempts and backoff (README.md, "Durable retries").
//
//   mq:g:<group>:retry    hash: message id -> "<attempt> <due ms>"
//   mq:g:<group>:retry:v  version, changed by every save and erase (scripts.cpp)
//
// Both keys expire `redis.retry_keep` after the latest due time saved, and a reader
// drops entries due longer ago than that (a process killed between finishing a message
// and erasing its entry leaves one behind), so nothing grows forever.
//
// Lookups come from a per-process cache (retry.hpp), so a delivery costs no round trip.
#include "engines/redis/retry.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <charconv>

#include "engines/redis/codec.hpp"
#include "engines/redis/engine.hpp"

namespace mq::engines::redis {
namespace {

std::int64_t epoch_ms(TimePoint time) {
  return std::chrono::ceil<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// "<attempt> <due ms>"; nullopt for anything else (not written by this store).
std::optional<core::RetryStore::Entry> parse(std::string_view text) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  core::RetryStore::Entry entry;
  std::int64_t due = 0;
  if (std::from_chars(text.data(), text.data() + space, entry.attempt).ec != std::errc{}) return std::nullopt;
  if (std::from_chars(text.data() + space + 1, text.data() + text.size(), due).ec != std::errc{}) return std::nullopt;
  entry.due = TimePoint{} + std::chrono::milliseconds(due);
  return entry;
}

}  // namespace

void RedisRetryStore::save(const std::string& group, const std::string& id, const Entry& entry) {
  const auto due = epoch_ms(entry.due);
  const auto until_due = std::max<std::int64_t>(due - epoch_ms(Clock::now()), 0);
  const auto ttl = until_due + engine_.settings().retry_keep.count();
  {
    auto connection = engine_.pool().acquire();
    checked(engine_.settings().address, "retry save",
            retry_save_script().run(*connection, {keys::retries(group), keys::retries_version(group)},
                                    {id, fmt::format("{} {}", entry.attempt, due), std::to_string(ttl)}));
  }
  std::lock_guard lock(mutex_);
  auto& cache = groups_[group];
  cache.entries[id] = entry;
  ++cache.local_writes;
}

std::optional<RedisRetryStore::Entry> RedisRetryStore::find(const std::string& group, const std::string& id) {
  std::unique_lock lock(mutex_);
  auto* cache = &groups_[group];
  cache->used = std::chrono::steady_clock::now();
  if (!cache->loaded) {
    // The group's first lookup (or the first after a pause) reads the hash at once;
    // from then on the background thread keeps the cache current.
    lock.unlock();
    {
      auto connection = engine_.pool().acquire();
      refresh(*connection, group);
    }
    lock.lock();
    cache = &groups_[group];
  }
  const auto it = cache->entries.find(id);
  if (it == cache->entries.end()) return std::nullopt;
  return it->second;
}

void RedisRetryStore::erase(const std::string& group, const std::string& id) {
  {
    auto connection = engine_.pool().acquire();
    checked(engine_.settings().address, "retry erase",
            retry_erase_script().run(*connection, {keys::retries(group), keys::retries_version(group)}, {id}));
  }
  std::lock_guard lock(mutex_);
  auto& cache = groups_[group];
  cache.entries.erase(id);
  ++cache.local_writes;
}

void RedisRetryStore::refresh_all(Connection& connection) {
  std::vector<std::string> groups;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    for (auto& [group, cache] : groups_) {
      // A group nobody looked up for a while is not followed; its next lookup reads it.
      if (now - cache.used > kIdle) cache.loaded = false;
      else if (cache.loaded) groups.push_back(group);
    }
  }
  for (const auto& group : groups) refresh(connection, group);
}

void RedisRetryStore::refresh(Connection& connection, const std::string& group) {
  std::string version;
  std::uint64_t writes = 0;
  {
    std::lock_guard lock(mutex_);
    const auto& cache = groups_[group];
    version = cache.loaded ? cache.version : std::string();
    writes = cache.local_writes;
  }
  const auto reply = checked(engine_.settings().address, "retry read",
                             retry_read_script().run(connection, {keys::retries(group), keys::retries_version(group)},
                                                     {version, std::to_string(engine_.settings().retry_keep.count())}));
  if (!reply.is_array() || reply.size() < 1) return;
  std::lock_guard lock(mutex_);
  auto& cache = groups_[group];
  if (reply.size() < 2) {  // unchanged
    cache.loaded = true;
    return;
  }
  // A save or erase of this process since the read: what was read may not include it;
  // keep the cache (and its old version, so the next refresh reads again).
  if (cache.loaded && cache.local_writes != writes) return;
  cache.version = std::string(text_of(reply.element(0)));
  cache.entries.clear();
  const redisReply* fields = reply.element(1);
  for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
    if (auto entry = parse(text_of(fields->element[i + 1]))) {
      cache.entries.emplace(std::string(text_of(fields->element[i])), *entry);
    }
  }
  cache.loaded = true;
}

std::shared_ptr<RedisRetryStore> make_retry_store(RedisEngine& engine) {
  return std::make_shared<RedisRetryStore>(engine);
}

}  // namespace mq::engines::redis
