// Admin's dead-letter verbs (C16): list, replay, purge, the same on every engine.
//
// A dead-letter topic is read through the internal group mq.dlq-reader.<group>. Log
// engines cannot delete one message, so resolving a dead letter (replay or purge)
// appends a marker to the same topic naming its mq-dead-letter-id, and acks both for
// the reader group; a read skips every dead letter a marker names. Unresolved dead
// letters stay unacked, so the next read sees them again, and so does every marker
// whose letter may be read again (DeadLetterRead::ack_settled_markers). One process at
// a time: two
// concurrent readers would split the topic between them (DESIGN.md, CLI).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

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
    if (!subscription_) return;
    ack_settled_markers();
    subscription_->close();
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
    acknowledge(record);
  }

 private:
  // One record this read received: a dead letter or a marker.
  struct Received {
    core::Record record;
    std::string marks;  // a marker: the mq-dead-letter-id it resolves; empty for a letter
    bool acked = false;
  };

  using Position = std::tuple<int, std::int64_t, std::uint64_t>;  // partition, offset, token
  static Position position_of(const core::Record& record) {
    return {record.message.partition, record.message.offset, record.token};
  }

  void receive(core::Record record, std::string marks) {
    received_at_[position_of(record)] = received_.size();
    received_.push_back(Received{std::move(record), std::move(marks)});
  }

  void acknowledge(const core::Record& record) {
    if (auto it = received_at_.find(position_of(record)); it != received_at_.end()) received_[it->second].acked = true;
    subscription_->ack(record);
  }

  // Acks each marker whose letters the reader group will not read again. The marker is
  // the only record saying its letter is resolved, so it must not be committed past
  // before the letter is. On an offset engine an acked letter is committed past only
  // once every earlier record of its partition is acked too: an unresolved letter before
  // it keeps it readable, while its marker, acked in another partition, was committed
  // past, and the next read offered the resolved letter again (mqctl dlq purge found a
  // replayed letter on Kafka). So a marker is acked only when every letter it names was
  // acked with nothing unacked before it in its partition; a held marker is read again
  // with its letter. A marker whose letter this read did not receive names a letter
  // committed past earlier. Engines that ack one by one merely keep a marker a while.
  void ack_settled_markers() {
    std::map<std::string, std::vector<const Received*>> letters_named;
    for (const auto& entry : received_) {
      if (entry.marks.empty()) letters_named[dead_letter_id(entry.record.message)].push_back(&entry);
    }
    for (bool progress = true; progress;) {
      progress = false;
      std::map<int, std::int64_t> first_unacked;  // partition -> lowest unacked offset
      for (const auto& entry : received_) {
        if (entry.acked) continue;
        auto [it, added] = first_unacked.emplace(entry.record.message.partition, entry.record.message.offset);
        if (!added) it->second = std::min(it->second, entry.record.message.offset);
      }
      const auto settled = [&](const std::string& id) {
        const auto named = letters_named.find(id);
        if (named == letters_named.end()) return true;
        return std::all_of(named->second.begin(), named->second.end(), [&](const Received* letter) {
          const auto blocker = first_unacked.find(letter->record.message.partition);
          return letter->acked &&
                 (blocker == first_unacked.end() || blocker->second >= letter->record.message.offset);
        });
      };
      for (auto& entry : received_) {
        if (entry.acked || entry.marks.empty() || !settled(entry.marks)) continue;
        subscription_->ack(entry.record);
        entry.acked = true;
        progress = true;
      }
    }
  }

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
          receive(std::move(record), std::string(*id));
          continue;
        }
        records.push_back(std::move(record));
      }
    }
    for (auto& record : records) {
      receive(record, {});
      if (resolved.count(dead_letter_id(record.message))) acknowledge(record);
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
  std::vector<Received> received_;  // every record of this read, in arrival order
  std::map<Position, std::size_t> received_at_;  // -> its index in received_
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
