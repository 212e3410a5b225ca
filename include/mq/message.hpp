// Message, Headers and Receipt: the values that travel through mq.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <memory>
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
//
// Storage: an optional immutable block of entries shared with other Headers (see
// share()), followed by entries of this object's own. Copying headers whose entries are
// shared costs a reference count, not a string per entry: a message delivered to many
// consumer groups, or a batch whose messages carry the same trace headers, keeps one copy
// of them. Changing an entry of the shared block first copies the block into this object
// (copy-on-write); adding entries never does. Distinct Headers objects may be used from
// different threads even when they share a block (the block is never modified).
class Headers {
 public:
  using Entry = std::pair<std::string, std::string>;
  // An immutable block of entries, shared by the Headers made from it.
  using Shared = std::shared_ptr<const std::vector<Entry>>;

  // Iterates the shared block's entries, then this object's own.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = const Entry*;
    using reference = const Entry&;

    const_iterator() = default;
    reference operator*() const { return *current_; }
    pointer operator->() const { return current_; }
    const_iterator& operator++() {
      if (++current_ == shared_end_) current_ = own_begin_;
      return *this;
    }
    const_iterator operator++(int) {
      auto before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.current_ == b.current_; }

   private:
    friend class Headers;
    const_iterator(const Entry* current, const Entry* shared_end, const Entry* own_begin)
        : current_(current == shared_end ? own_begin : current), shared_end_(shared_end), own_begin_(own_begin) {}
    const Entry* current_ = nullptr;
    const Entry* shared_end_ = nullptr;  // one past the shared block: continue with own_begin_
    const Entry* own_begin_ = nullptr;
  };
  using iterator = const_iterator;

  Headers() = default;
  Headers(std::initializer_list<Entry> entries) : own_(entries) {}
  // Headers that start as the entries of `shared` (no copy of them).
  explicit Headers(Shared shared) : shared_(std::move(shared)) {}

  void add(std::string name, std::string value) { own_.emplace_back(std::move(name), std::move(value)); }
  // Replaces every header of this name with one entry at the end.
  void set(std::string_view name, std::string value);
  void remove(std::string_view name);
  std::optional<std::string_view> find(std::string_view name) const;
  bool contains(std::string_view name) const { return find(name).has_value(); }

  // Moves every entry into one immutable block (when they are not all in one already)
  // and returns it: copies of these headers, and Headers(block), share it from then on.
  // An optimisation only: the entries, their order and every reader's view stay the same.
  Shared share() &;
  // The same for headers about to go away: the block moves out (no reference count
  // taken and dropped) and these headers are left empty.
  Shared share() && {
    if (!own_.empty()) share();
    return std::move(shared_);
  }

  // Room for `count` entries without reallocating (an optimisation only).
  void reserve(std::size_t count) { own_.reserve(count > shared_size() ? count - shared_size() : 0); }
  std::size_t size() const { return shared_size() + own_.size(); }
  bool empty() const { return size() == 0; }
  const_iterator begin() const {
    const Entry* shared = shared_ ? shared_->data() : nullptr;
    return {shared, shared + shared_size(), own_.data()};
  }
  const_iterator end() const {
    const Entry* shared = shared_ ? shared_->data() : nullptr;
    return {own_.data() + own_.size(), shared + shared_size(), own_.data() + own_.size()};
  }
  // A copy of the entries, in order.
  std::vector<Entry> entries() const { return {begin(), end()}; }

  friend bool operator==(const Headers& a, const Headers& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::size_t shared_size() const { return shared_ ? shared_->size() : 0; }
  // Copies the shared block into own_ (before changing one of its entries).
  void unshare();

  Shared shared_;            // may be null; never modified (other Headers may share it)
  std::vector<Entry> own_;   // after the shared entries
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
