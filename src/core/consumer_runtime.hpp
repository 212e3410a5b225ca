// ConsumerRuntime: the engine-independent consumer. One poller thread fetches records
// from the engine subscription (never more than max_in_flight open at once), a
// KeyedDispatcher keeps each key in order, worker threads run the handler, and the
// outcome decides: ack, retry after backoff, or dead letter.
//
// Thread-safe. Invariant: a record is acked to the engine only after its handler
// returned ack, or after its dead letter was stored; never both, never twice.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "core/engine.hpp"
#include "core/keyed_dispatcher.hpp"
#include "core/timer_queue.hpp"
#include "mq/consumer.hpp"

namespace mq::core {

class ConsumerRuntime {
 public:
  // Joins the group and starts the threads. Throws on invalid options.
  // `keep_alive` (core's delay scheduler, when the engine needs one) lives at least as
  // long as this consumer.
  ConsumerRuntime(std::shared_ptr<Engine> engine, ConsumerOptions options, Handler handler,
                  std::shared_ptr<void> keep_alive = nullptr);
  // Stops (stop_timeout) if still running, then waits for every thread.
  ~ConsumerRuntime();

  bool stop(std::chrono::milliseconds deadline);
  void set_max_in_flight(int limit);
  ConsumerStats stats() const;
  const ConsumerOptions& options() const { return options_; }

 private:
  void poll_loop();
  void worker_loop();
  void run(Task task);
  Outcome invoke_handler(const Message& message);
  void finish(const Task& task);  // acks, releases the key, frees an in-flight slot
  void retry_later(Task task, std::chrono::milliseconds wait);
  void dead_letter(Task task, const std::string& reason);
  std::chrono::milliseconds jittered_backoff(int next_attempt) const;

  const std::shared_ptr<Engine> engine_;
  const ConsumerOptions options_;
  const Handler handler_;
  const std::shared_ptr<void> keep_alive_;
  std::unique_ptr<Subscription> subscription_;
  // Shared by ackers, exclusive for close: no ack reaches a closed subscription.
  std::shared_mutex subscription_guard_;
  bool subscription_closed_ = false;

  KeyedDispatcher dispatcher_;
  TimerQueue retry_timers_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // in-flight or stopping changed
  std::size_t in_flight_ = 0;        // fetched and not finished (includes waiting retries)
  std::size_t max_in_flight_;
  bool stopping_ = false;
  std::mutex stop_mutex_;  // serialises stop(); guards the two fields below
  bool stopped_ = false;
  bool stop_result_ = false;

  std::atomic<std::uint64_t> received_{0}, acked_{0}, retried_{0}, dead_lettered_{0}, dropped_{0};

  std::thread poller_;
  std::vector<std::thread> workers_;
};

}  // namespace mq::core
