#include "core/keyed_dispatcher.hpp"

#include <cassert>

namespace mq::core {

bool KeyedDispatcher::push_locked(Task&& task) {
  if (!task.order_key.empty()) {
    auto [entry, inserted] = held_.try_emplace(task.order_key);
    if (!inserted || !entry->second.empty()) {
      // Key busy (running, or waiting behind a running one): wait in its line.
      entry->second.push_back(std::move(task));
      return false;
    }
    // Key free: it becomes held by whichever worker takes this task; an empty line
    // in held_ marks that.
  }
  runnable_.push_back(std::move(task));
  runnable_count_.store(runnable_.size(), std::memory_order_relaxed);
  return true;
}

void KeyedDispatcher::push(Task task) {
  bool runnable = false;
  {
    std::lock_guard lock(mutex_);
    runnable = push_locked(std::move(task));
  }
  if (runnable) available_.notify_one();
}

void KeyedDispatcher::push_all(std::vector<Task>& tasks) {
  std::size_t runnable = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto& task : tasks) runnable += push_locked(std::move(task)) ? 1 : 0;
  }
  // One wake-up per fetch instead of one per task: each woken worker keeps popping
  // while tasks are runnable, so waking every worker once is enough.
  if (runnable == 1) available_.notify_one();
  else if (runnable > 1) available_.notify_all();
}

void KeyedDispatcher::push_front_held(Task task) {
  {
    std::lock_guard lock(mutex_);
    assert(task.order_key.empty() || held_.count(task.order_key) == 1);
    runnable_.push_front(std::move(task));
    runnable_count_.store(runnable_.size(), std::memory_order_relaxed);
  }
  available_.notify_one();
}

std::optional<Task> KeyedDispatcher::pop() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return closed_ || !runnable_.empty(); });
  return take_runnable_locked();
}

std::optional<Task> KeyedDispatcher::try_pop() {
  std::lock_guard lock(mutex_);
  return take_runnable_locked();
}

std::optional<Task> KeyedDispatcher::take_runnable_locked() {
  if (runnable_.empty()) return std::nullopt;
  Task task = std::move(runnable_.front());
  runnable_.pop_front();
  runnable_count_.store(runnable_.size(), std::memory_order_relaxed);
  ++active_;
  return task;
}

std::optional<Task> KeyedDispatcher::pop_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  available_.wait_until(lock, until, [&] { return closed_ || !runnable_.empty(); });
  return take_runnable_locked();
}

void KeyedDispatcher::task_done(std::size_t count) {
  bool idle = false;
  {
    std::lock_guard lock(mutex_);
    assert(active_ >= count);
    active_ -= count;
    idle = active_ == 0 && runnable_.empty();
  }
  if (idle) idle_.notify_all();
}

bool KeyedDispatcher::wait_idle(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  return idle_.wait_until(lock, until, [&] { return active_ == 0 && runnable_.empty(); });
}

void KeyedDispatcher::release(const std::string& key) {
  if (key.empty()) return;
  bool woke = false;
  {
    std::lock_guard lock(mutex_);
    auto entry = held_.find(key);
    assert(entry != held_.end());
    if (entry == held_.end()) return;
    if (entry->second.empty()) {
      held_.erase(entry);
    } else {
      // The next task of the key inherits the hold.
      runnable_.push_back(std::move(entry->second.front()));
      runnable_count_.store(runnable_.size(), std::memory_order_relaxed);
      entry->second.pop_front();
      woke = true;
    }
  }
  if (woke) available_.notify_one();
}

void KeyedDispatcher::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  available_.notify_all();
}

std::size_t KeyedDispatcher::discard_waiting() {
  std::size_t count = 0;
  {
    std::lock_guard lock(mutex_);
    count = runnable_.size();
    runnable_.clear();
    runnable_count_.store(runnable_.size(), std::memory_order_relaxed);
    for (auto& [key, line] : held_) {
      count += line.size();
      line.clear();
    }
  }
  idle_.notify_all();
  return count;
}

std::size_t KeyedDispatcher::runnable() const {
  std::lock_guard lock(mutex_);
  return runnable_.size();
}

}  // namespace mq::core
