#include "core/delay_scheduler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/logging.hpp"
#include "mq/names.hpp"

namespace mq::core {
namespace {

constexpr std::string_view kSchedulerGroup = "mq.scheduler";
constexpr std::chrono::milliseconds kLongestPoll{100};      // bounds lateness and stop latency
constexpr std::chrono::milliseconds kRetryAfterFailure{1'000};  // target append failed
constexpr std::chrono::milliseconds kLongestAppend{30'000};

// Rounded up: a message is never delivered before its due time.
std::int64_t to_millis(TimePoint time) {
  return std::chrono::ceil<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// A record without a readable due time is moved at once: delaying it forever would be
// a silent loss.
TimePoint due_of(const Message& stored) {
  std::int64_t millis = 0;
  if (auto text = stored.headers.find(names::due_header)) {
    std::from_chars(text->data(), text->data() + text->size(), millis);
  }
  return TimePoint{} + std::chrono::milliseconds(millis);
}

}  // namespace

Envelope to_delay_envelope(Envelope envelope) {
  auto& message = envelope.message;
  message.headers.set(names::due_header, std::to_string(to_millis(envelope.due)));
  message.headers.set(names::original_topic_header, message.topic);
  message.topic = std::string(names::delay_topic);
  envelope.due = TimePoint{};
  return envelope;
}

Message from_delay_record(const Message& stored) {
  Message message = stored;
  if (auto topic = stored.headers.find(names::original_topic_header)) message.topic = std::string(*topic);
  message.headers.remove(names::due_header);
  message.headers.remove(names::original_topic_header);
  message.headers.remove(names::attempt_header);
  message.partition = -1;
  message.offset = -1;
  return message;
}

DelayScheduler::DelayScheduler(std::shared_ptr<Engine> engine) : engine_(std::move(engine)) {
  subscription_ = engine_->subscribe(
      SubscriptionSpec{std::string(kSchedulerGroup), {std::string(names::delay_topic)}, StartPosition::earliest,
                       /*holds_records=*/true});
  thread_ = std::thread([this] { run(); });
}

DelayScheduler::~DelayScheduler() { stop(); }

void DelayScheduler::stop() {
  if (stopping_.exchange(true)) return;
  subscription_->wakeup();
  thread_.join();
  subscription_->close();
}

void DelayScheduler::run() {
  while (!stopping_.load()) {
    auto wait = kLongestPoll;
    if (!held_.empty()) {
      const auto until_due = std::chrono::duration_cast<std::chrono::milliseconds>(held_.top().due - Clock::now());
      wait = std::clamp(until_due, std::chrono::milliseconds(1), kLongestPoll);
    }
    const std::size_t room = held_.size() < kMaxHeld ? kMaxHeld - held_.size() : 0;
    try {
      if (room > 0) {
        for (auto& record : subscription_->poll(std::min<std::size_t>(room, 1000), wait)) {
          const auto due = due_of(record.message);
          held_.push(Held{due, std::move(record)});
        }
      } else {
        std::this_thread::sleep_for(wait);  // full: nothing to fetch until one falls due
      }
    } catch (const Error& error) {
      log(LogLevel::warning, "delay scheduler: fetch from {} failed: {}", names::delay_topic, error.what());
      std::this_thread::sleep_for(kLongestPoll);
    }
    move_due();
  }
}

void DelayScheduler::move_due() {
  const auto now = Clock::now();
  std::vector<Held> due;
  while (!held_.empty() && held_.top().due <= now) {
    // A record of a partition the group gave to another scheduler is that one's to move.
    if (subscription_->owns(held_.top().record)) due.push_back(std::move(const_cast<Held&>(held_.top())));
    held_.pop();
  }
  if (due.empty()) return;
  std::vector<Envelope> batch;
  batch.reserve(due.size());
  for (const auto& held : due) batch.push_back(Envelope{from_delay_record(held.record.message), {}});
  // No answer in time: every record counts as failed.
  const auto results = append_and_wait(*engine_, std::move(batch), Acks::all, kLongestAppend)
                           .value_or(std::vector<AppendResult>{});
  for (std::size_t i = 0; i < due.size(); ++i) {
    if (i < results.size() && results[i].status.ok()) {
      subscription_->ack(due[i].record);
      continue;
    }
    const auto reason = i < results.size() ? results[i].status.to_string() : std::string("no result");
    log(LogLevel::warning, "delay scheduler: cannot move message {} to '{}' yet: {}", due[i].record.message.id,
        from_delay_record(due[i].record.message).topic, reason);
    due[i].due = now + kRetryAfterFailure;
    held_.push(std::move(due[i]));
  }
}

}  // namespace mq::core
