// KeyedDispatcher: hands tasks to worker threads so that tasks of one key run one at a
// time and in arrival order, while different keys run in parallel.
//
// A key is "held" from the moment a worker takes one of its tasks until release(key).
// While held, later tasks of that key wait in the key's line. A task with an empty key
// has no ordering and is runnable at once. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine.hpp"

namespace mq::core {

namespace metrics {
struct ConsumedMetrics;
}

struct Task {
  Record record;
  std::string order_key;  // empty: unordered
  int attempt = 1;
  metrics::ConsumedMetrics* metrics = nullptr;  // null: metrics off
  bool retry_checked = false;  // the RetryStore was asked about this delivery
  bool retry_saved = false;    // the RetryStore holds an entry to erase when finished
};

// A FIFO of tasks in a ring that keeps its storage. std::deque allocates and frees a
// node for every two Tasks (a Task is a few hundred bytes), i.e. once per message on
// the consumer's hot path; the ring only grows (doubling) to the largest backlog seen.
// Slots outside [head, head + count) hold moved-from Tasks, which own no memory. Not
// thread-safe (KeyedDispatcher's mutex guards it).
class TaskQueue {
 public:
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  Task& front() { return slots_[head_]; }
  void push_back(Task&& task) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) & (slots_.size() - 1)] = std::move(task);
    ++count_;
  }
  void push_front(Task&& task) {
    if (count_ == slots_.size()) grow();
    head_ = (head_ + slots_.size() - 1) & (slots_.size() - 1);
    slots_[head_] = std::move(task);
    ++count_;
  }
  // Drops the front (moved from by the caller).
  void pop_front() {
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
  }
  void clear() {
    for (; count_ > 0; --count_) {
      slots_[head_] = Task{};  // frees what the task held
      head_ = (head_ + 1) & (slots_.size() - 1);
    }
  }

 private:
  void grow() {
    std::vector<Task> larger(slots_.empty() ? 16 : slots_.size() * 2);  // a power of two
    for (std::size_t i = 0; i < count_; ++i) larger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    slots_ = std::move(larger);
    head_ = 0;
  }

  std::vector<Task> slots_;  // size: 0 or a power of two
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

class KeyedDispatcher {
 public:
  // Queues a task behind earlier tasks of its key.
  void push(Task task);
  // push() for each task in order (moved from), under one lock and with one wake-up.
  void push_all(std::vector<Task>& tasks);
  // Puts a task back at the head of its key's line, for a key the caller still holds
  // (a retry of the task that holds the key): it runs before later tasks of the key.
  void push_front_held(Task task);
  // Blocks until a task is runnable or close() was called and nothing is runnable.
  // The returned task's key is held until release(); the task counts as active until
  // task_done().
  std::optional<Task> pop();
  // A runnable task if there is one now; never waits.
  std::optional<Task> try_pop();
  // Like pop(), but gives up at `until` (nothing when no task became runnable).
  std::optional<Task> pop_until(std::chrono::steady_clock::time_point until);
  // `count` popped tasks are done (their keys are released separately).
  void task_done(std::size_t count = 1);
  // Waits until no task is runnable or active; false if `until` passed first.
  bool wait_idle(std::chrono::steady_clock::time_point until);
  // Ends the hold on `key`: the next task in its line, if any, becomes runnable.
  void release(const std::string& key);
  // Wakes every pop(); pop() returns nothing once no task is runnable.
  void close();
  // Drops every task not yet started (keys stay as they are); returns how many.
  std::size_t discard_waiting();
  std::size_t runnable() const;
  // Nothing is runnable right now (lock-free; exact when the caller's own pop or push
  // was the last change). The consumer runtime fetches early when its workers starve.
  bool starved() const { return runnable_count_.load(std::memory_order_relaxed) == 0; }

 private:
  std::optional<Task> take_runnable_locked();  // the front runnable task, now active
  bool push_locked(Task&& task);  // true: the task is runnable now (else it waits for its key)

  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::condition_variable idle_;
  std::size_t active_ = 0;  // popped and not yet task_done()
  TaskQueue runnable_;
  std::atomic<std::size_t> runnable_count_{0};  // runnable_.size(), updated under mutex_
  // Held keys and the tasks waiting behind them.
  std::unordered_map<std::string, std::deque<Task>> held_;
  bool closed_ = false;
};

}  // namespace mq::core
