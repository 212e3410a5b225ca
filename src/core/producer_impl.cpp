#include "core/producer_impl.hpp"

#include <fmt/format.h>

#include <future>

#include "core/delay_scheduler.hpp"
#include "core/logging.hpp"
#include "core/message_id.hpp"
#include "core/metrics.hpp"
#include "core/same_text.hpp"
#include "core/tracing.hpp"
#include "core/validate.hpp"
#include "mq/names.hpp"

namespace mq::core {

ProducerImpl::ProducerImpl(std::shared_ptr<Engine> engine, ProducerOptions options, bool core_delay)
    : engine_(std::move(engine)), options_(options), core_delay_(core_delay), sender_([this] { sender_loop(); }) {}

ProducerImpl::~ProducerImpl() { close(); }

void ProducerImpl::check_open() const {
  if (closed_.load(std::memory_order_acquire)) throw Error(ErrorCode::closed, "producer is closed");
}

Envelope ProducerImpl::prepare(Message message, TimePoint due) const {
  check_open();
  validate_message(message, options_.max_message_bytes, /*allow_reserved_topic=*/false);
  Envelope envelope{std::move(message), due};
  fill_in(envelope.message, Clock::now(), TraceInjector());
  return envelope;
}

void ProducerImpl::fill_in(Message& message, TimePoint now, const TraceInjector& trace) const {
  if (message.id.empty()) message.id = new_message_id(now);
  if (message.timestamp == TimePoint{}) message.timestamp = now;
  message.offset = -1;
  trace.inject(message);
}

namespace {

// Runs of one topic in a batch, for the produced counters: a batch usually has one.
struct TopicRun {
  std::string topic;
  std::size_t count = 0;
};

std::vector<TopicRun> topic_runs(const std::vector<Envelope>& batch, bool one_topic = false) {
  std::vector<TopicRun> runs;
  if (one_topic && !batch.empty()) {
    runs.push_back(TopicRun{batch.front().message.topic, batch.size()});
    return runs;
  }
  for (const auto& envelope : batch) {
    // A delayed message parked in mq.delay counts for the topic it is going to.
    std::string_view topic = envelope.message.topic;
    if (topic == names::delay_topic) topic = envelope.message.headers.find(names::original_topic_header).value_or(topic);
    if (runs.empty() || !same_text(runs.back().topic, topic)) runs.push_back(TopicRun{std::string(topic), 0});
    ++runs.back().count;
  }
  return runs;
}

void count_produced(const std::vector<TopicRun>& runs, const std::vector<AppendResult>* results) {
  std::size_t index = 0;
  for (const auto& run : runs) {
    std::uint64_t ok = 0;
    for (std::size_t i = 0; i < run.count; ++i, ++index) ok += results && (*results)[index].status.ok() ? 1 : 0;
    if (ok) metrics::produced(run.topic, true)->add(ok);
    if (ok < run.count) metrics::produced(run.topic, false)->add(run.count - ok);
  }
}

}  // namespace

std::vector<AppendResult> ProducerImpl::append_and_wait(std::vector<Envelope> batch, bool one_topic) {
  const auto count = batch.size();
  const std::string topic = count ? batch.front().message.topic : std::string();
  const auto runs = metrics::enabled() ? topic_runs(batch, one_topic) : std::vector<TopicRun>{};
  auto answer = core::append_and_wait(*engine_, std::move(batch), options_.acks, options_.send_timeout);
  if (!answer) {
    count_produced(runs, nullptr);
    throw Error(ErrorCode::timeout, fmt::format("send to '{}': no acknowledgement within {} ms", topic,
                                                options_.send_timeout.count()));
  }
  auto results = std::move(*answer);
  if (results.size() != count) {
    count_produced(runs, nullptr);
    throw Error(ErrorCode::internal, fmt::format("engine returned {} results for {} messages", results.size(), count));
  }
  count_produced(runs, &results);
  return results;
}

Receipt ProducerImpl::send(Message message, TimePoint due) {
  std::vector<Envelope> batch;
  batch.push_back(prepare(std::move(message), due));
  const bool delayed = due != TimePoint{};
  // Through core's scheduler the message is stored in mq.delay for now; the receipt
  // names the topic it goes to.
  std::string topic;
  if (delayed && core_delay_) {
    topic = batch.front().message.topic;
    batch.front() = to_delay_envelope(std::move(batch.front()));
  }
  auto results = append_and_wait(std::move(batch));
  if (!results.front().status.ok()) throw Error(results.front().status);
  auto receipt = std::move(results.front().receipt);
  if (delayed) receipt.due = due;
  if (!topic.empty()) {
    receipt.topic = topic;
    receipt.partition = -1;
    receipt.offset = -1;
  }
  return receipt;
}

std::vector<Receipt> ProducerImpl::send_batch(std::vector<Message> messages) {
  check_open();
  // Validate everything before anything is sent; a batch usually has one topic, whose
  // name is checked once.
  const std::string* checked_topic = nullptr;
  bool one_topic = true;
  for (const auto& message : messages) {
    const bool same_topic = checked_topic && same_text(*checked_topic, message.topic);
    validate_message_body(message, options_.max_message_bytes);
    if (!same_topic) validate_user_topic(message.topic);
    one_topic = one_topic && (same_topic || !checked_topic);
    checked_topic = &message.topic;
  }
  std::vector<Envelope> batch;
  batch.reserve(messages.size());
  // One clock reading and one look at the thread's trace context for the whole batch:
  // the batch is sent at one time, in one context.
  const auto now = Clock::now();
  const TraceInjector trace;
  for (auto& message : messages) fill_in(batch.emplace_back(std::move(message)).message, now, trace);  // in place
  if (batch.empty()) return {};
  auto results = append_and_wait(std::move(batch), one_topic);  // user topics: none is mq.delay
  std::vector<Receipt> receipts;
  receipts.reserve(results.size());
  for (auto& result : results) {
    if (!result.status.ok()) throw Error(result.status);
    receipts.push_back(std::move(result.receipt));
  }
  return receipts;
}

void ProducerImpl::send_async(Message message, SendCallback callback) {
  auto envelope = prepare(std::move(message), TimePoint{});
  const auto bytes = message_size(envelope.message);
  {
    std::lock_guard lock(signals_->mutex);
    if (stopping_) throw Error(ErrorCode::closed, "producer is closed");
    if (queued_bytes_ + bytes > options_.max_buffered_bytes) {
      throw Error(ErrorCode::limit_exceeded,
                  fmt::format("send_async to '{}': {} bytes already buffered, the limit (max_buffered_bytes) is {}",
                              envelope.message.topic, queued_bytes_, options_.max_buffered_bytes));
    }
    queued_bytes_ += bytes;
    ++unfinished_;
    // The queue is kept as whole batches: the sender takes one in O(1) under the lock.
    // Cutting a batch message by message (moving each out, destroying the moved-from
    // ones) held the lock while every send_async waited: 1,000,000 send_async calls to
    // Kafka took 1.0-2.7 s with that, 0.6-1.2 s without.
    if (queue_.empty() || queue_.back().items.size() >= options_.batch_max_messages) queue_.emplace_back();
    auto& batch = queue_.back();
    batch.items.push_back(Pending{std::move(envelope), std::move(callback), bytes});
    batch.bytes += bytes;
    ++queued_count_;
    // The sender needs a wake-up only when the queue becomes non-empty or its linger
    // can end (a full batch). Waking it for every message past a full batch made it
    // wake, find every in-flight slot taken and sleep again once per message: a
    // context switch per send_async while the engine was the bottleneck (52,000 per
    // 1,000,000 sends to Kafka).
    if (queued_count_ != 1 && queued_count_ != options_.batch_max_messages) return;  // sender already awake
  }
  signals_->wake_sender.notify_one();
}

namespace {

// Batches send_async keeps at the engine at once. One at a time would make every batch
// wait a whole round trip (a broker's acknowledgement) before the next is even sent;
// engines keep the order of successive appends, so pipelining loses no ordering.
constexpr std::size_t max_batches_in_flight = 8;

}  // namespace

void ProducerImpl::sender_loop() {
  std::unique_lock lock(signals_->mutex);
  while (true) {
    if (!in_flight_.empty() && (in_flight_.front()->answered || Clock::now() >= in_flight_.front()->deadline)) {
      auto state = std::move(in_flight_.front());
      in_flight_.pop_front();
      state->answered = true;  // a late answer from the engine is dropped
      lock.unlock();
      finish(*state);
      lock.lock();
      continue;
    }
    if (!queue_.empty() && in_flight_.size() < max_batches_in_flight) {
      // Linger: give the batch a moment to fill unless it is full, we are closing, or
      // earlier batches are still out (their round trip was the wait).
      if (options_.linger.count() > 0 && !stopping_ && in_flight_.empty()) {
        signals_->wake_sender.wait_for(lock, options_.linger,
                                       [&] { return stopping_ || queued_count_ >= options_.batch_max_messages; });
      }
      auto state = std::make_shared<InFlight>();
      state->batch = std::move(queue_.front().items);
      queued_bytes_ -= queue_.front().bytes;
      queued_count_ -= state->batch.size();
      queue_.pop_front();
      state->deadline = options_.send_timeout == milliseconds::max() ? TimePoint::max()
                                                                     : Clock::now() + options_.send_timeout;
      in_flight_.push_back(state);
      lock.unlock();
      hand_over(state);
      lock.lock();
      continue;
    }
    if (stopping_ && queue_.empty() && in_flight_.empty()) return;
    // Every condition above is checked under the lock that notifiers hold: no lost wake-up.
    if (in_flight_.empty() || in_flight_.front()->deadline == TimePoint::max()) signals_->wake_sender.wait(lock);
    else signals_->wake_sender.wait_until(lock, in_flight_.front()->deadline);
  }
}

void ProducerImpl::hand_over(const std::shared_ptr<InFlight>& state) {
  std::vector<Envelope> envelopes;
  envelopes.reserve(state->batch.size());
  for (auto& pending : state->batch) envelopes.push_back(std::move(pending.envelope));
  if (metrics::enabled()) {
    state->count_produced = [runs = topic_runs(envelopes)](const std::vector<AppendResult>* results) {
      count_produced(runs, results);
    };
  }
  const auto answer = [signals = signals_, state](std::vector<AppendResult>&& results) {
    std::lock_guard lock(signals->mutex);
    if (state->answered) return;  // given up at its deadline
    state->results = std::move(results);
    state->answered = true;
    signals->wake_sender.notify_one();
  };
  try {
    engine_->append(std::move(envelopes), options_.acks, answer);
  } catch (const Error& error) {  // engines report through the callback; be safe anyway
    answer(std::vector<AppendResult>(state->batch.size(), AppendResult{error.status(), {}}));
  }
}

void ProducerImpl::finish(InFlight& state) {
  auto& results = state.results;
  const auto count = state.batch.size();
  const bool reported = results.size() == count;
  if (state.count_produced) state.count_produced(reported ? &results : nullptr);
  if (results.empty()) {
    results.assign(count, AppendResult{Status(ErrorCode::timeout, fmt::format("send: no acknowledgement within {} ms",
                                                                              options_.send_timeout.count())),
                                       {}});
  } else if (results.size() != count) {
    results.assign(count, AppendResult{Status(ErrorCode::internal, fmt::format("engine returned {} results for {} messages",
                                                                               results.size(), count)),
                                       {}});
  }
  complete(state.batch, std::move(results));
}

void ProducerImpl::complete(std::vector<Pending>& batch, std::vector<AppendResult>&& results) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].callback) continue;
    try {
      batch[i].callback(results[i].status, results[i].receipt);
    } catch (const std::exception& error) {
      log(LogLevel::error, "send_async callback threw: {}", error.what());
    } catch (...) {
      log(LogLevel::error, "send_async callback threw a non-standard exception");
    }
  }
  {
    std::lock_guard lock(signals_->mutex);
    unfinished_ -= batch.size();
  }
  drained_.notify_all();
}

bool ProducerImpl::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(signals_->mutex);
  signals_->wake_sender.notify_one();
  const auto done = [&] { return unfinished_ == 0; };
  if (timeout == std::chrono::milliseconds::max()) {
    drained_.wait(lock, done);
    return true;
  }
  return drained_.wait_for(lock, timeout, done);
}

void ProducerImpl::close() {
  if (closed_.exchange(true)) return;
  {
    std::unique_lock lock(signals_->mutex);
    stopping_ = true;
    signals_->wake_sender.notify_one();
    if (!drained_.wait_for(lock, options_.close_timeout, [&] { return unfinished_ == 0; })) {
      log(LogLevel::warning, "producer close: {} sends still unacknowledged after {} ms", unfinished_,
          options_.close_timeout.count());
    }
  }
  sender_.join();  // the sender has drained the queue (each item got its callback)
}

}  // namespace mq::core
