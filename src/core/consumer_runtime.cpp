#include "core/consumer_runtime.hpp"

#include <fmt/format.h>

#include <array>
#include <future>
#include <random>

#include "core/dead_letter.hpp"
#include "core/logging.hpp"
#include "core/same_text.hpp"
#include "core/tracing.hpp"
#include "core/validate.hpp"
#include "mq/names.hpp"

namespace mq::core {
namespace {

void validate_options(const ConsumerOptions& options) {
  validate_name(options.group, "group");
  if (options.topics.empty()) {
    throw Error(ErrorCode::invalid_argument, fmt::format("consumer of group '{}': no topics given", options.group));
  }
  for (const auto& topic : options.topics) validate_subscription(topic);
  if (options.workers < 1) throw Error(ErrorCode::invalid_argument, "consumer: workers must be at least 1");
  if (options.max_in_flight < 1) throw Error(ErrorCode::invalid_argument, "consumer: max_in_flight must be at least 1");
  if (options.retry.max_attempts < 1) {
    throw Error(ErrorCode::invalid_argument, "consumer: retry.max_attempts must be at least 1");
  }
}

std::string order_key_of(const Message& message, bool ordered) {
  if (!ordered || !message.key) return {};
  // Ordering is per key within a topic; the NUL separates topic from key unambiguously
  // (topic names cannot contain it).
  std::string key = message.topic;
  key += '\0';
  key += *message.key;
  return key;
}

}  // namespace

ConsumerRuntime::ConsumerRuntime(std::shared_ptr<Engine> engine, ConsumerOptions options, Handler handler,
                                 ConsumerServices services)
    : engine_(std::move(engine)),
      options_(std::move(options)),
      handler_(std::move(handler)),
      services_(std::move(services)),
      retries_(engine_->retry_store()),
      max_in_flight_(static_cast<std::size_t>(std::max(options_.max_in_flight, 1))) {
  if (!handler_) throw Error(ErrorCode::invalid_argument, "consumer: no handler given");
  start();
}

ConsumerRuntime::ConsumerRuntime(std::shared_ptr<Engine> engine, ConsumerOptions options, BatchOptions batch,
                                 BatchHandler handler, ConsumerServices services)
    : engine_(std::move(engine)),
      options_(std::move(options)),
      batch_options_(batch),
      batch_handler_(std::move(handler)),
      services_(std::move(services)),
      retries_(engine_->retry_store()),
      max_in_flight_(static_cast<std::size_t>(std::max(options_.max_in_flight, 1))) {
  if (!batch_handler_) throw Error(ErrorCode::invalid_argument, "batch consumer: no handler given");
  if (batch_options_.max_messages < 1) {
    throw Error(ErrorCode::invalid_argument, "batch consumer: max_messages must be at least 1");
  }
  if (options_.dedup.enabled) {
    throw Error(ErrorCode::invalid_argument, "batch consumer: dedup is available for message handlers only");
  }
  start();
}

void ConsumerRuntime::start() {
  validate_options(options_);
  if (options_.dedup.enabled && !services_.dedup) throw Error(ErrorCode::internal, "consumer: dedup without a store");
  subscription_ = engine_->subscribe(SubscriptionSpec{options_.group, options_.topics, options_.start});
  metrics::register_group(engine_, options_.group);
  for (int i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { batch_handler_ ? batch_worker_loop() : worker_loop(); });
  }
  poller_ = std::thread([this] { poll_loop(); });
}

ConsumerRuntime::~ConsumerRuntime() {
  stop(options_.stop_timeout);
  if (poller_.joinable()) poller_.join();
  dispatcher_.close();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void ConsumerRuntime::poll_loop() {
  while (true) {
    // Acks a worker left for later are sent within one poll_interval even while every
    // worker is inside a handler (one that never returns must not hold back the acks of
    // the messages handled before it).
    finish_acked();
    std::size_t budget = 0;
    {
      std::unique_lock lock(mutex_);
      const bool may_fetch = changed_.wait_for(lock, options_.poll_interval, [&] {
        if (stopping_ || may_fetch_locked()) return true;
        poller_waiting_ = true;  // finishers wake it once fetching is worthwhile
        return false;
      });
      poller_waiting_ = false;
      if (stopping_) return;
      if (!may_fetch) continue;
      budget = max_in_flight_ - in_flight_;
    }
    std::vector<Record> records;
    try {
      records = subscription_->poll(budget, options_.poll_interval);
    } catch (const Error& error) {
      log(LogLevel::warning, "consumer of group '{}': fetch failed: {}", options_.group, error.what());
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, options_.poll_interval, [&] { return stopping_; });
      continue;
    }
    if (records.empty()) continue;
    {
      std::lock_guard lock(mutex_);
      in_flight_ += records.size();
    }
    const bool count = metrics::enabled();
    // A fetch is mostly one topic: look it up once per run. last_topic points at the
    // key inside metrics_by_topic_ (stable), not into a record that is moved below.
    const std::string* last_topic = nullptr;
    metrics::ConsumedMetrics* last_metrics = nullptr;
    std::vector<Task> tasks(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      auto& record = records[i];
      Task& task = tasks[i];
      task.order_key = order_key_of(record.message, options_.ordered_by_key);
      task.attempt = record.message.attempt();
      if (count) {
        if (!last_topic || !same_text(*last_topic, record.message.topic)) {
          auto& cached = *metrics_by_topic_.try_emplace(record.message.topic, nullptr).first;
          if (!cached.second) cached.second = metrics::consumed(record.message.topic, options_.group);
          last_topic = &cached.first;
          last_metrics = cached.second;
        }
        task.metrics = last_metrics;
      }
      task.record = std::move(record);
    }
    dispatcher_.push_all(tasks);  // one lock and one wake-up for the whole fetch
  }
}

void ConsumerRuntime::worker_loop() {
  metrics::WorkerTally tally;  // published before this worker waits, and when it ends
  for (;;) {
    auto task = dispatcher_.try_pop();
    if (!task) {
      finish_acked();  // nothing may wait for a worker that is idle
      tally.flush();  // idle from here on, maybe for long: the shared counters are exact
      task = dispatcher_.pop();
      if (!task) break;
    }
    // This worker took the last runnable task: the poller may have to fetch before
    // the refill mark so that the workers do not run dry.
    if (dispatcher_.starved()) wake_poller_if_needed();
    if (!run(*task, tally)) {
      dispatcher_.task_done();
    } else if (task->order_key.empty()) {
      bool full = false;
      {
        std::lock_guard lock(acked_mutex_);
        acked_tasks_.push_back(std::move(*task));
        full = acked_tasks_.size() >= kAckBatch;
      }
      if (full) finish_acked();
    } else {
      finish(*task);
      acked_.fetch_add(1, std::memory_order_relaxed);
      dispatcher_.task_done();
    }
  }
  finish_acked();
}

void ConsumerRuntime::finish_acked() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(acked_mutex_);
    if (acked_tasks_.empty()) return;
    tasks.swap(acked_tasks_);
    acked_tasks_.reserve(kAckBatch);
  }
  finish_all(tasks);
  acked_.fetch_add(tasks.size(), std::memory_order_relaxed);
  dispatcher_.task_done(tasks.size());
}

bool ConsumerRuntime::may_fetch_locked() const {
  if (in_flight_ >= max_in_flight_) return false;
  // Fetch in large bites: once half the window is free, or when the workers have
  // nothing runnable (slow handlers, retries in backoff, a held key). Refilling every
  // freed slot at once made the poller fetch one record per finished one, contending
  // for the engine's lock with every ack.
  const std::size_t refill = std::max<std::size_t>(1, max_in_flight_ / 2);
  return in_flight_ + refill <= max_in_flight_ || dispatcher_.starved();
}

void ConsumerRuntime::wake_poller_if_needed() {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    wake = poller_waiting_ && may_fetch_locked();
    if (wake) poller_waiting_ = false;  // one wake-up per wait
  }
  if (wake) changed_.notify_all();
}

Outcome ConsumerRuntime::invoke_handler(const Message& message) {
  // The handler runs inside the message's trace, so that its own sends continue it.
  HandlerTrace trace(message);  // not const: trace::current() may resolve it through a pointer
  return outcome_of([&] { return handler_(message); });
}

bool ConsumerRuntime::claim_for_handling(Task& task) {
  if (!options_.dedup.enabled) return true;
  const auto& id = task.record.message.id;
  DedupStore::Claim claim;
  try {
    claim = services_.dedup->claim(options_.group, id, options_.dedup.lease);
  } catch (const std::exception& error) {
    // Without the store we cannot tell a duplicate: handle it later, not twice now.
    log(LogLevel::warning, "consumer of group '{}': dedup store failed for {}: {}", options_.group, id, error.what());
    retry_later(std::move(task), options_.retry.max_backoff);
    return false;
  }
  switch (claim) {
    case DedupStore::Claim::acquired:
      return true;
    case DedupStore::Claim::done:
      duplicates_.fetch_add(1, std::memory_order_relaxed);
      if (task.metrics) task.metrics->duplicate.add();
      finish(task);
      return false;
    case DedupStore::Claim::busy:
      // Another member is on it: look again once its lease could have ended or it
      // finished; the attempt count is unchanged (this was no attempt).
      retry_later(std::move(task), std::max(options_.retry.initial_backoff, milliseconds(50)));
      return false;
  }
  return true;
}

void ConsumerRuntime::settle_claim(const Task& task, bool processed) {
  if (!options_.dedup.enabled) return;
  try {
    if (processed) services_.dedup->complete(options_.group, task.record.message.id, options_.dedup.window);
    else services_.dedup->release(options_.group, task.record.message.id);
  } catch (const std::exception& error) {
    // The claim's lease ends by itself; at worst a redelivery is processed again.
    log(LogLevel::warning, "consumer of group '{}': dedup store failed for {}: {}", options_.group,
        task.record.message.id, error.what());
  }
}

bool ConsumerRuntime::resume_saved_retry(Task& task) {
  if (!retries_ || task.retry_checked || task.attempt != 1) return true;
  task.retry_checked = true;
  std::optional<RetryStore::Entry> saved;
  try {
    saved = retries_->find(options_.group, task.record.message.id);
  } catch (const std::exception& error) {
    log(LogLevel::warning, "consumer of group '{}': retry store failed for {}: {}", options_.group,
        task.record.message.id, error.what());
  }
  if (!saved) return true;
  task.retry_saved = true;
  task.attempt = std::max(saved->attempt, 1);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(saved->due - Clock::now());
  if (wait.count() <= 0) return true;
  retry_later(std::move(task), wait);
  return false;
}

void ConsumerRuntime::save_retry(Task& task, std::chrono::milliseconds wait) {
  if (!retries_) return;
  try {
    retries_->save(options_.group, task.record.message.id, RetryStore::Entry{task.attempt, Clock::now() + wait});
    task.retry_saved = true;
  } catch (const std::exception& error) {
    log(LogLevel::warning, "consumer of group '{}': cannot save the retry of {}: {}", options_.group,
        task.record.message.id, error.what());
  }
}

bool ConsumerRuntime::run(Task& task, metrics::WorkerTally& tally) {
  if (!resume_saved_retry(task)) return false;
  task.record.message.headers.set(names::attempt_header, std::to_string(task.attempt));
  if (!claim_for_handling(task)) return false;
  received_.fetch_add(1, std::memory_order_relaxed);
  // The clock is read only for the duration histogram (metrics on).
  const std::uint64_t started = task.metrics ? handler_clock_.now() : 0;
  const Outcome outcome = invoke_handler(task.record.message);
  if (task.metrics) {
    tally.handled(task.metrics, handler_clock_.between(started, handler_clock_.now()),
                  outcome.kind() == Outcome::Kind::ack);
  }
  settle_claim(task, outcome.kind() == Outcome::Kind::ack);
  switch (outcome.kind()) {
    case Outcome::Kind::ack:
      return true;
    case Outcome::Kind::retry:
      if (task.attempt < options_.retry.max_attempts) {
        retried_.fetch_add(1, std::memory_order_relaxed);
        if (task.metrics) task.metrics->retry.add();
        const auto wait = jittered_backoff(task.attempt + 1);
        task.attempt += 1;
        task.record.message.headers.set(names::error_header, outcome.reason());
        save_retry(task, wait);
        retry_later(std::move(task), wait);
        return false;
      }
      dead_letter(std::move(task), outcome.reason());
      return false;
    case Outcome::Kind::dead_letter:
      dead_letter(std::move(task), outcome.reason());
      return false;
  }
  return false;
}

void ConsumerRuntime::retry_later(Task task, std::chrono::milliseconds wait) {
  {
    std::lock_guard lock(mutex_);
    // Stopping: leave the record unacked (delivered again to the group) and keep its
    // key held so that later messages of the key are not handled before it.
    if (stopping_) return;
  }
  const bool held = !task.order_key.empty();
  // The task leaves the workers without freeing its slot: they may now be idle.
  wake_poller_if_needed();
  retry_timers_.schedule(std::chrono::steady_clock::now() + wait, [this, held, task = std::move(task)]() mutable {
    if (held) dispatcher_.push_front_held(std::move(task));
    else dispatcher_.push(std::move(task));
  });
}

void ConsumerRuntime::dead_letter(Task task, const std::string& reason) {
  const auto& failed = task.record.message;
  if (!options_.dead_letter) {
    log(LogLevel::warning, "consumer of group '{}': dropping message {} of '{}' after {} attempts: {}",
        options_.group, failed.id, failed.topic, task.attempt, reason);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    if (task.metrics) task.metrics->dropped.add();
    finish(task);
    return;
  }
  std::vector<Envelope> batch;
  batch.push_back(Envelope{make_dead_letter(failed, options_.group, reason, task.attempt), {}});
  const auto results = append_and_wait(*engine_, std::move(batch), Acks::all, milliseconds::max());
  const Status status = results && !results->empty() ? results->front().status
                                                     : Status(ErrorCode::internal, "engine returned no result");
  if (status.ok()) {
    dead_lettered_.fetch_add(1, std::memory_order_relaxed);
    if (task.metrics) task.metrics->dead_letter.add();
    finish(task);
    return;
  }
  // The dead letter is not stored: keep the message and try again later rather than
  // lose it. The attempt count stays at its maximum.
  log(LogLevel::error, "consumer of group '{}': cannot store dead letter for message {} of '{}': {}", options_.group,
      failed.id, failed.topic, status.to_string());
  retry_later(std::move(task), options_.retry.max_backoff);
}

void ConsumerRuntime::finish_all(std::span<const Task> tasks) {
  if (tasks.empty()) return;
  for (const Task& task : tasks) {
    if (!task.retry_saved) continue;
    try {
      retries_->erase(options_.group, task.record.message.id);
    } catch (const std::exception& error) {  // a stale entry only delays a later redelivery
      log(LogLevel::warning, "consumer of group '{}': cannot erase the retry of {}: {}", options_.group,
          task.record.message.id, error.what());
    }
  }
  {
    std::shared_lock guard(subscription_guard_);
    // In chunks through a buffer on the stack: no allocation per finish.
    std::array<const Record*, 32> records;
    for (std::size_t start = 0; start < tasks.size() && !subscription_closed_; start += records.size()) {
      const std::size_t count = std::min(records.size(), tasks.size() - start);
      for (std::size_t i = 0; i < count; ++i) records[i] = &tasks[start + i].record;
      subscription_->ack_all({records.data(), count});
    }
  }
  for (const Task& task : tasks) dispatcher_.release(task.order_key);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    in_flight_ -= tasks.size();
    // Only a waiting poller that may now fetch needs waking (stop() does not wait on this).
    wake = poller_waiting_ && may_fetch_locked();
    if (wake) poller_waiting_ = false;
  }
  if (wake) changed_.notify_all();
}

std::chrono::milliseconds ConsumerRuntime::jittered_backoff(int next_attempt) const {
  const auto base = options_.retry.backoff_before(next_attempt);
  const double jitter = std::clamp(options_.retry.jitter, 0.0, 1.0);
  if (jitter == 0.0 || base.count() == 0) return base;
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_real_distribution<double> factor(1.0 - jitter, 1.0 + jitter);
  return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(base.count()) * factor(random)));
}

bool ConsumerRuntime::stop(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  std::lock_guard serial(stop_mutex_);  // a second stop() waits for the first, then reports it
  if (stopped_) return stop_result_;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  subscription_->wakeup();
  if (poller_.joinable()) poller_.join();  // returns within one poll (wakeup cuts it short)
  // Pending retries stay unacked: the group gets them again. Their keys stay held, so
  // the messages queued behind them are not handled out of order either.
  retry_timers_.clear();
  const bool finished = dispatcher_.wait_idle(until);
  stopped_ = true;
  stop_result_ = finished;
  if (!finished) {
    const auto discarded = dispatcher_.discard_waiting();
    log(LogLevel::warning, "consumer of group '{}': stop deadline passed; {} messages not started, handlers still running",
        options_.group, discarded);
  }
  dispatcher_.close();
  // Handlers that returned ack before the deadline while others still ran: their acks
  // may be waiting for a worker (the poller, which also sends them, has ended).
  finish_acked();
  {
    std::unique_lock guard(subscription_guard_);
    subscription_closed_ = true;
    subscription_->close();
  }
  if (finished) {
    for (auto& worker : workers_) worker.join();
  }
  return finished;
}

void ConsumerRuntime::set_max_in_flight(int limit) {
  {
    std::lock_guard lock(mutex_);
    max_in_flight_ = static_cast<std::size_t>(std::max(limit, 1));
  }
  changed_.notify_all();
}

ConsumerStats ConsumerRuntime::stats() const {
  ConsumerStats stats{received_.load(), acked_.load(),  retried_.load(), dead_lettered_.load(),
                      dropped_.load(),  duplicates_.load(), 0};
  std::lock_guard lock(mutex_);
  stats.in_flight = in_flight_;
  return stats;
}

}  // namespace mq::core
