// ConsumerRuntime's batch mode (Client::batch_consumer, C21): a worker gathers up to
// BatchOptions::max_messages runnable tasks within the linger time, runs the batch
// handler once, and settles every task by the batch's outcome. Tasks keep their keys
// held until settled, so per-key order holds across batches and workers.
#include <fmt/format.h>

#include "core/consumer_runtime.hpp"
#include "core/logging.hpp"
#include "mq/names.hpp"

namespace mq::core {

void ConsumerRuntime::batch_worker_loop() {
  while (auto first = dispatcher_.pop()) {
    std::vector<Task> batch;
    batch.push_back(std::move(*first));
    if (dispatcher_.starved()) wake_poller_if_needed();  // see worker_loop
    const auto until = std::chrono::steady_clock::now() + batch_options_.linger;
    while (batch.size() < batch_options_.max_messages) {
      // Lingering for more is pointless when nothing is runnable and the window is full:
      // no task can arrive before one is finished, and this batch may hold the whole
      // window. A batch of 1,000 under the default window of 256 waited out its whole
      // linger every time: 5,000 messages/s instead of over a million.
      if (dispatcher_.starved() && window_full()) break;
      auto next = dispatcher_.pop_until(until);
      if (!next) break;
      batch.push_back(std::move(*next));
      if (dispatcher_.starved()) wake_poller_if_needed();
    }
    const auto popped = batch.size();
    run_batch(batch);
    dispatcher_.task_done(popped);
  }
}

bool ConsumerRuntime::window_full() const {
  std::lock_guard lock(mutex_);
  return in_flight_ >= max_in_flight_;
}

Outcome ConsumerRuntime::invoke_batch_handler(const std::vector<Message>& messages) {
  return outcome_of([&] { return batch_handler_(messages); });
}

void ConsumerRuntime::run_batch(std::vector<Task>& batch) {
  std::vector<Message> messages;
  messages.reserve(batch.size());
  while (true) {
    // The messages are lent to the handler (moved out and back), not copied: copying
    // allocated every string of every message, ~15% of a batch consumer's CPU on the
    // embedded engine (bench/RESULTS.md). Nothing else reads a popped task's message
    // meanwhile; the acks and retries below need it back.
    for (auto& task : batch) {
      task.record.message.headers.set(names::attempt_header, std::to_string(task.attempt));
      messages.push_back(std::move(task.record.message));
    }
    received_.fetch_add(batch.size(), std::memory_order_relaxed);
    const auto started = std::chrono::steady_clock::now();
    const Outcome outcome = invoke_batch_handler(messages);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].record.message = std::move(messages[i]);
    messages.clear();
    for (const auto& task : batch) {
      if (task.metrics) task.metrics->duration.observe(elapsed);
    }
    const int attempt = batch.front().attempt;  // the batch's tasks advance together
    if (outcome.kind() == Outcome::Kind::ack) {
      acked_.fetch_add(batch.size(), std::memory_order_relaxed);
      for (const auto& task : batch) {
        if (task.metrics) task.metrics->ok.add();
      }
      finish_all(batch);
      return;
    }
    if (outcome.kind() == Outcome::Kind::dead_letter || attempt >= options_.retry.max_attempts) {
      for (auto& task : batch) dead_letter(std::move(task), outcome.reason());
      return;
    }
    retried_.fetch_add(batch.size(), std::memory_order_relaxed);
    for (auto& task : batch) {
      if (task.metrics) task.metrics->retry.add();
      task.attempt = attempt + 1;
      task.record.message.headers.set(names::error_header, outcome.reason());
    }
    // This worker waits out the backoff; stopping leaves the batch unacked (the group
    // gets it again) with its keys held.
    std::unique_lock lock(mutex_);
    if (changed_.wait_for(lock, jittered_backoff(attempt + 1), [&] { return stopping_; })) return;
  }
}

}  // namespace mq::core
