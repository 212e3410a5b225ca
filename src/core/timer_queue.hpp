// TimerQueue: runs callbacks at given times on one thread of its own.
//
// Used for retry backoff and for the memory engine's delayed messages. Callbacks run one
// at a time on the queue's thread and must not block for long. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace mq::core {

class TimerQueue {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  TimerQueue();
  // Stops the thread; callbacks still pending are discarded (not run).
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  void schedule(SteadyTime due, std::function<void()> callback);
  // Discards every pending callback without running it; returns how many there were.
  std::size_t clear();
  std::size_t pending() const;

 private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  // Ordered by due time, then by insertion (the sequence number keeps equal times FIFO).
  std::map<std::pair<SteadyTime, std::uint64_t>, std::function<void()>> timers_;
  std::uint64_t sequence_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mq::core
