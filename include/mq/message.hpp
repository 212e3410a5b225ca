// Message, Headers and Receipt: the values that travel through mq.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mq {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

// Ordered name/value pairs. Names may repeat (as in Kafka); find() returns the last one,
// so appending a header overrides an earlier one of the same name for readers.
// Values are arbitrary bytes. Thread-compatible (a value type).
class Headers {
 public:
  using Entry = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Entry> entries) : entries_(entries) {}

  void add(std::string name, std::string value) {
    entries_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every header of this name with one entry at the end.
  void set(std::string_view name, std::string value);
  void remove(std::string_view name);
  std::optional<std::string_view> find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name).has_value(); }

  // Room for `count` entries without reallocating (an optimisation only).
  void reserve(std::size_t count) { entries_.reserve(count); }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  const std::vector<Entry>& entries() const { return entries_; }

  friend bool operator==(const Headers&, const Headers&) = default;

 private:
  std::vector<Entry> entries_;
};

// One message. Producers fill topic, value and whatever else they need; mq fills id
// (a time-ordered unique id) and timestamp when they are empty. Consumers receive the
// same fields plus where the message was stored (partition, offset) and the attempt.
struct Message {
  std::string topic;
  std::optional<std::string> key;  // same key: same partition, delivered in order
  std::string value;               // bytes; may be empty or contain NUL
  Headers headers;
  std::string id;                  // empty on send: mq assigns one (UUIDv7 text)
  TimePoint timestamp{};           // zero on send: mq sets the send time
  int priority = 0;                // 0..9; engines with the capability deliver 9 first
  // On send: -1 lets mq pick (key hash, or spread when there is no key); >= 0 forces it.
  // On receive: the partition the message was read from.
  int partition = -1;
  std::int64_t offset = -1;        // on receive: position in the partition (engine-specific)

  // Convenience constructors for the common cases.
  Message() = default;
  Message(std::string topic_name, std::string payload)
      : topic(std::move(topic_name)), value(std::move(payload)) {}
  Message(std::string topic_name, std::string message_key, std::string payload)
      : topic(std::move(topic_name)), key(std::move(message_key)), value(std::move(payload)) {}

  // The delivery attempt (1 for the first delivery), read from the mq-attempt header.
  int attempt() const;
};

// Where a sent message was stored.
struct Receipt {
  std::string topic;
  int partition = -1;
  std::int64_t offset = -1;  // -1 for engines without offsets (see engine_id)
  std::string id;            // the message id (assigned by mq when the sender left it empty)
  std::string engine_id;     // engine-native id where there is one (Redis stream id, ...)
  // Only for send_at/send_after: when the message becomes visible to consumers.
  std::optional<TimePoint> due;
};

}  // namespace mq
