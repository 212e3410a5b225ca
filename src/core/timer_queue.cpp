#include "core/timer_queue.hpp"

namespace mq::core {

TimerQueue::TimerQueue() : thread_([this] { run(); }) {}

TimerQueue::~TimerQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void TimerQueue::schedule(SteadyTime due, std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    timers_.emplace(std::make_pair(due, sequence_++), std::move(callback));
  }
  changed_.notify_all();
}

std::size_t TimerQueue::clear() {
  std::map<std::pair<SteadyTime, std::uint64_t>, std::function<void()>> discarded;
  std::lock_guard lock(mutex_);
  discarded.swap(timers_);
  return discarded.size();
}

std::size_t TimerQueue::pending() const {
  std::lock_guard lock(mutex_);
  return timers_.size();
}

void TimerQueue::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const auto due = timers_.begin()->first.first;
    if (std::chrono::steady_clock::now() < due) {
      changed_.wait_until(lock, due);
      continue;
    }
    auto callback = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    lock.unlock();  // callbacks may schedule further timers
    callback();
    lock.lock();
  }
}

}  // namespace mq::core
