// Admin's dead-letter verbs (C16): list, replay, purge, the same on every engine.
//
// A dead-letter topic is read through the internal group mq.dlq-reader.<group>. Log
// engines cannot delete one message, so resolving a dead letter (replay or purge)
// appends a marker to the same topic naming its mq-dead-letter-id, and acks both for
// the reader group; a read skips every dead letter a marker names. Unresolved dead
// letters stay unacked, so the next read sees them again. One process at a time: two
// concurrent readers would split the topic between them (DESIGN.md, CLI).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <set>

#include "core/dead_letter.hpp"
#include "core/engine.hpp"
#include "core/message_id.hpp"
#include "core/validate.hpp"
#include "mq/admin.hpp"
#include "mq/names.hpp"

namespace mq {
namespace {

// How long a read waits for the first record of a topic that has some (a server
// engine may need a moment to assign partitions), and for more once records flow.
constexpr std::chrono::milliseconds kFirstRecordWait{10'000};
constexpr std::chrono::milliseconds kQuietWait{300};

int to_int(std::optional<std::string_view> text) {
  int value = 0;
  if (text) std::from_chars(text->data(), text->data() + text->size(), value);
  return value;
}

DeadLetter to_dead_letter(const Message& stored) {
  DeadLetter letter;
  letter.message = stored;
  letter.original_topic = std::string(stored.headers.find(names::original_topic_header).value_or(""));
  letter.error = std::string(stored.headers.find(names::error_header).value_or(""));
  letter.attempts = to_int(stored.headers.find(names::attempt_header));
  std::int64_t failed_ms = 0;
  if (auto text = stored.headers.find(names::failed_at_header)) {
    std::from_chars(text->data(), text->data() + text->size(), failed_ms);
  }
  letter.failed_at = TimePoint{} + std::chrono::milliseconds(failed_ms);
  return letter;
}

std::string dead_letter_id(const Message& stored) {
  // Dead letters from before mq-dead-letter-id existed are named by their message id.
  return std::string(stored.headers.find(names::dead_letter_id_header).value_or(stored.id));
}

// Stores `batch` durably; the first failure, if any.
Status store(core::Engine& engine, std::vector<core::Envelope> batch) {
  const auto results = core::append_and_wait(engine, std::move(batch), Acks::all, milliseconds::max());
  for (const auto& result : *results) {
    if (!result.status.ok()) return result.status;
  }
  return Status();
}

// One read of a group's dead-letter topic. Holds the reader subscription open so that
// resolved records can be acked; closing it returns the unresolved ones to the group.
class DeadLetterRead {
 public:
  DeadLetterRead(std::shared_ptr<core::Engine> engine, const std::string& group)
      : engine_(std::move(engine)),
        topic_(names::dead_letter_topic(group)),
        reader_group_(names::dead_letter_reader_group(group)) {
    core::validate_name(group, "group");
    if (!topic_exists()) return;
    subscription_ = engine_->subscribe(
        core::SubscriptionSpec{reader_group_, {topic_}, StartPosition::earliest});
    read_all();
  }
  ~DeadLetterRead() {
    if (subscription_) subscription_->close();
  }

  // Unresolved dead letters, oldest first.
  const std::vector<core::Record>& letters() const { return letters_; }

  // Appends the marker for `record`, then acks it for the reader group.
  void resolve(const core::Record& record) {
    Message marker(topic_, "");
    marker.id = core::new_message_id();
    marker.timestamp = Clock::now();
    marker.headers.set(names::resolved_header, dead_letter_id(record.message));
    std::vector<core::Envelope> batch;
    batch.push_back(core::Envelope{std::move(marker), {}});
    const auto status = store(*engine_, std::move(batch));
    if (!status.ok()) throw Error(status);
    subscription_->ack(record);
  }

 private:
  bool topic_exists() {
    const auto topics = engine_->list_topics();
    return std::any_of(topics.begin(), topics.end(), [&](const TopicInfo& topic) { return topic.name == topic_; });
  }

  void read_all() {
    std::vector<core::Record> records;
    std::set<std::string> resolved;
    const auto started = std::chrono::steady_clock::now();
    while (true) {
      const bool nothing_yet = records.empty();
      auto batch = subscription_->poll(1000, nothing_yet ? std::chrono::milliseconds(100) : kQuietWait);
      if (batch.empty()) {
        if (!nothing_yet || std::chrono::steady_clock::now() - started >= kFirstRecordWait) break;
        if (caught_up()) break;
        continue;
      }
      for (auto& record : batch) {
        if (auto id = record.message.headers.find(names::resolved_header)) {
          resolved.insert(std::string(*id));
          subscription_->ack(record);  // a marker is read once
          continue;
        }
        records.push_back(std::move(record));
      }
    }
    for (auto& record : records) {
      if (resolved.count(dead_letter_id(record.message))) subscription_->ack(record);
      else letters_.push_back(std::move(record));
    }
    std::stable_sort(letters_.begin(), letters_.end(), [](const core::Record& a, const core::Record& b) {
      return a.message.timestamp < b.message.timestamp;
    });
  }

  // Nothing to read: the topic stores nothing, or the reader group has committed all
  // of it (every dead letter resolved).
  bool caught_up() {
    for (const auto& topic : engine_->list_topics()) {
      if (topic.name == topic_ && topic.messages == 0) return true;
    }
    const auto reader = engine_->describe_group(reader_group_);
    return !reader.partitions.empty() && reader.total_lag() == 0;
  }

  std::shared_ptr<core::Engine> engine_;
  std::string topic_;
  std::string reader_group_;
  std::unique_ptr<core::Subscription> subscription_;
  std::vector<core::Record> letters_;
};

// Serialises this process's reads of one engine: two readers in one group would split
// the topic between them.
std::mutex& reader_mutex() {
  static std::mutex mutex;
  return mutex;
}

template <typename Action>
std::size_t resolve_selected(const std::shared_ptr<core::Engine>& engine, const std::string& group,
                             const DeadLetterSelection& selection, Action&& action) {
  std::lock_guard lock(reader_mutex());
  DeadLetterRead read(engine, group);
  const auto now = Clock::now();
  std::size_t resolved = 0;
  for (const auto& record : read.letters()) {
    if (!selection.matches(to_dead_letter(record.message), now)) continue;
    action(record.message);
    read.resolve(record);
    ++resolved;
  }
  return resolved;
}

}  // namespace

bool DeadLetterSelection::matches(const DeadLetter& letter, TimePoint now) const {
  if (all) return true;
  if (std::find(ids.begin(), ids.end(), letter.message.id) != ids.end()) return true;
  return older_than.count() > 0 && letter.failed_at <= now - older_than;
}

std::vector<DeadLetter> Admin::list_dead_letters(const std::string& group, std::size_t limit) {
  std::lock_guard lock(reader_mutex());
  DeadLetterRead read(engine_, group);
  std::vector<DeadLetter> letters;
  for (const auto& record : read.letters()) {
    if (letters.size() >= limit) break;
    letters.push_back(to_dead_letter(record.message));
  }
  return letters;
}

std::size_t Admin::replay_dead_letters(const std::string& group, const DeadLetterSelection& selection) {
  return resolve_selected(engine_, group, selection, [&](const Message& stored) {
    auto message = core::replay_from_dead_letter(stored);
    if (message.topic.empty()) {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("dead letter {} of group '{}' has no original topic header", stored.id, group));
    }
    message.timestamp = Clock::now();
    std::vector<core::Envelope> batch;
    batch.push_back(core::Envelope{std::move(message), {}});
    const auto status = store(*engine_, std::move(batch));
    if (!status.ok()) throw Error(status);
  });
}

std::size_t Admin::purge_dead_letters(const std::string& group, const DeadLetterSelection& selection) {
  return resolve_selected(engine_, group, selection, [](const Message&) {});
}

}  // namespace mq
