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
    groups_[group].entries[id] = entry;
  }

  std::optional<Entry> find(const std::string& group, const std::string& id) override {
    std::lock_guard lock(mutex_);
    auto& state = groups_[group];
    if (const auto now = core::CoarseSteadyClock::now(); now >= state.next_check) {
      state.next_check = now + kRecheck;
      state.next_offset = engine()->read_topic(names::retry_topic(group), state.next_offset,
                                               [&](const rd_kafka_message_t* message) { apply(state, message); });
    }
    const auto it = state.entries.find(id);
    if (it == state.entries.end()) return std::nullopt;
    return it->second;
  }

  void erase(const std::string& group, const std::string& id) override {
    {
      std::lock_guard lock(mutex_);
      groups_[group].entries.erase(id);
    }
    engine()->append_internal(names::retry_topic(group), id, nullptr, false);
  }

 private:
  struct Group {
    std::map<std::string, Entry> entries;
    std::int64_t next_offset = 0;  // of mq.retry.<group>, read up to here
    std::chrono::steady_clock::time_point next_check{};  // on core::CoarseSteadyClock's clock
  };

  static void apply(Group& state, const rd_kafka_message_t* message) {
    if (!message->key) return;
    std::string id(static_cast<const char*>(message->key), message->key_len);
    if (!message->payload) {
      state.entries.erase(id);
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
