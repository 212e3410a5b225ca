// The Kafka engine's RetryStore (core/engine.hpp): scheduled retries survive a consumer
// restart. Each group's retries live in the one-partition topic mq.retry.<group>
// (compacted on a real broker): key the message id, value "ATTEMPT DUE_MS", a tombstone
// (null value) when the message is finished.
//
// find() is on the hot path (every first delivery), so each group's topic is read into
// memory at its first use and read on from where it stopped at most every kRecheck:
// a retry saved by another process within that time of its redelivery here may be
// missed (the message then counts as attempt 1 again; at-least-once holds). save()
// returns once the record is stored; erase() does not wait (a stale entry only delays
// a later redelivery of the same id). Thread-safe: one mutex per store.
#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "engines/kafka/engine.hpp"
#include "mq/names.hpp"

namespace mq::engines::kafka {
namespace {

constexpr std::chrono::milliseconds kRecheck{1'000};

std::int64_t to_millis(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

class RetryTopics final : public core::RetryStore {
 public:
  explicit RetryTopics(std::weak_ptr<KafkaEngine> engine) : engine_(std::move(engine)) {}

  void save(const std::string& group, const std::string& id, const Entry& entry) override {
    const std::string value = fmt::format("{} {}", entry.attempt, to_millis(entry.due));
    engine()->append_internal(names::retry_topic(group), id, &value, true);
    std::lock_guard lock(mutex_);
    auto& state = groups_[group];
    state.entries[id] = entry;
    if (state.reading) state.touched.insert(id);
  }

  std::optional<Entry> find(const std::string& group, const std::string& id) override {
    std::unique_lock lock(mutex_);
    auto& state = groups_[group];
    if (const auto now = std::chrono::steady_clock::now(); now >= state.next_check && !state.reading) {
      state.next_check = now + kRecheck;
      if (!state.read_once) {
        // The first read completes before any answer: a restarted consumer must see the
        // attempts saved before its restart. Callers of other groups wait too (rare).
        state.next_offset = read(group, state.next_offset, state);
        state.read_once = true;
        state.erased.clear();
      } else {
        // Later reads (a metadata round trip at least) run with the lock released, by
        // one caller at a time: the other deliveries answer from what was read (within
        // the kRecheck window this store already allows), instead of all stalling
        // behind the broker every second (C18 saw deliveries more than 1 s late).
        state.reading = true;
        const auto from = state.next_offset;
        lock.unlock();
        Group fresh;
        std::int64_t next = from;
        try {
          next = read(group, from, fresh);
        } catch (...) {
          lock.lock();
          groups_[group].reading = false;
          groups_[group].touched.clear();
          throw;
        }
        lock.lock();
        auto& current = groups_[group];
        for (auto& [key, entry] : fresh.entries) {
          if (!current.touched.count(key)) current.entries[key] = entry;  // saved here since: newer
        }
        for (const auto& key : fresh.erased) {
          if (!current.touched.count(key)) current.entries.erase(key);
        }
        current.touched.clear();
        current.next_offset = next;
        current.reading = false;
        return lookup(current, id);
      }
    }
    return lookup(state, id);
  }

  void erase(const std::string& group, const std::string& id) override {
    {
      std::lock_guard lock(mutex_);
      auto& state = groups_[group];
      state.entries.erase(id);
      if (state.reading) state.touched.insert(id);
    }
    engine()->append_internal(names::retry_topic(group), id, nullptr, false);
  }

 private:
  struct Group {
    std::map<std::string, Entry> entries;
    std::set<std::string> erased;  // tombstones read (only in a read's own result)
    std::int64_t next_offset = 0;  // of mq.retry.<group>, read up to here
    std::chrono::steady_clock::time_point next_check{};
    bool read_once = false;
    bool reading = false;          // a caller reads on, without the lock
    std::set<std::string> touched;  // saved or erased here while `reading`
  };

  static std::optional<Entry> lookup(const Group& state, const std::string& id) {
    const auto it = state.entries.find(id);
    if (it == state.entries.end()) return std::nullopt;
    return it->second;
  }

  // Reads mq.retry.<group> from `from` into `state`; returns the offset read up to.
  std::int64_t read(const std::string& group, std::int64_t from, Group& state) {
    return engine()->read_topic(names::retry_topic(group), from,
                                [&](const rd_kafka_message_t* message) { apply(state, message); });
  }

  static void apply(Group& state, const rd_kafka_message_t* message) {
    if (!message->key) return;
    std::string id(static_cast<const char*>(message->key), message->key_len);
    if (!message->payload) {
      state.entries.erase(id);
      state.erased.insert(std::move(id));
      return;
    }
    const char* text = static_cast<const char*>(message->payload);
    const char* end = text + message->len;
    Entry entry;
    std::int64_t due_ms = 0;
    auto [after_attempt, error] = std::from_chars(text, end, entry.attempt);
    if (error != std::errc() || after_attempt == end) return;  // not ours: ignored
    if (std::from_chars(after_attempt + 1, end, due_ms).ec != std::errc()) return;
    entry.due = TimePoint(std::chrono::milliseconds(due_ms));
    state.erased.erase(id);
    state.entries[std::move(id)] = entry;
  }

  std::shared_ptr<KafkaEngine> engine() const {
    auto engine = engine_.lock();
    if (!engine) throw Error(ErrorCode::closed, "kafka engine is closed");
    return engine;
  }

  const std::weak_ptr<KafkaEngine> engine_;
  std::mutex mutex_;
  std::map<std::string, Group> groups_;
};

}  // namespace

std::shared_ptr<core::RetryStore> KafkaEngine::retry_store() {
  std::lock_guard lock(mutex_);
  if (!retries_) retries_ = std::make_shared<RetryTopics>(weak_from_this());
  return retries_;
}

}  // namespace mq::engines::kafka
