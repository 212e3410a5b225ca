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
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/engine.hpp"
#include "core/keyed_dispatcher.hpp"
#include "core/handler_clock.hpp"
#include "core/metrics.hpp"
#include "core/timer_queue.hpp"
#include "mq/consumer.hpp"

namespace mq::core {

// What a consumer uses besides its engine, provided by the Client.
struct ConsumerServices {
  std::shared_ptr<void> keep_alive;   // core's delay scheduler, when the engine needs one
  std::shared_ptr<DedupStore> dedup;  // required when options.dedup.enabled
};

class ConsumerRuntime {
 public:
  // Joins the group and starts the threads. Throws on invalid options.
  ConsumerRuntime(std::shared_ptr<Engine> engine, ConsumerOptions options, Handler handler,
                  ConsumerServices services = {});
  // A batch consumer (BatchOptions in mq/consumer.hpp). Dedup is not available here.
  ConsumerRuntime(std::shared_ptr<Engine> engine, ConsumerOptions options, BatchOptions batch,
                  BatchHandler handler, ConsumerServices services = {});
  // Stops (stop_timeout) if still running, then waits for every thread.
  ~ConsumerRuntime();

  bool stop(std::chrono::milliseconds deadline);
  void set_max_in_flight(int limit);
  ConsumerStats stats() const;
  const ConsumerOptions& options() const { return options_; }

 private:
  // A handler's outcome; an exception is a failure with its text (C17).
  template <typename Call>
  static Outcome outcome_of(Call&& call) {
    try {
      return call();
    } catch (const std::exception& error) {
      return Outcome::retry(error.what());
    } catch (...) {
      return Outcome::retry("handler threw a non-standard exception");
    }
  }

  void start();
  void poll_loop();
  void worker_loop();
  // Batch consumers (consumer_batch.cpp): gather, run, retry as a whole.
  void batch_worker_loop();
  void run_batch(std::vector<Task>& batch);
  Outcome invoke_batch_handler(const std::vector<Message>& messages);
  // True: the handler acked the task and the caller finishes it. False: it is finished,
  // or waits for a retry, or was moved from (retries, dead letters).
  bool run(Task& task, metrics::WorkerTally& tally);
  Outcome invoke_handler(const Message& message);
  // Acks to the engine, releases the keys, frees the in-flight slots; the tasks' slots
  // in the dispatcher stay active (task_done is the caller's).
  void finish_all(std::span<const Task> tasks);
  void finish(const Task& task) { finish_all({&task, 1}); }
  void finish_acked();  // finish_all() of acked_tasks_, then their task_done()
  // Requires mutex_. Whether the poller should fetch now (see poll_loop).
  bool may_fetch_locked() const;
  // Wakes the poller if it waits and may_fetch_locked() now holds.
  void wake_poller_if_needed();
  // The window (max_in_flight) is full: no task arrives until one is finished.
  bool window_full() const;
  // Dedup before the handler: false when the task is finished or postponed already.
  bool claim_for_handling(Task& task);
  void settle_claim(const Task& task, bool processed);
  // Durable retries: a delivery the group had scheduled a retry for gets its attempt
  // back and waits for its due time (false: postponed). Saving records a new retry.
  bool resume_saved_retry(Task& task);
  void save_retry(Task& task, std::chrono::milliseconds wait);
  void retry_later(Task task, std::chrono::milliseconds wait);
  void dead_letter(Task task, const std::string& reason);
  std::chrono::milliseconds jittered_backoff(int next_attempt) const;

  const std::shared_ptr<Engine> engine_;
  const ConsumerOptions options_;
  const Handler handler_;              // empty for a batch consumer
  const BatchOptions batch_options_;
  const BatchHandler batch_handler_;   // empty for a message consumer
  const ConsumerServices services_;
  const std::shared_ptr<RetryStore> retries_;  // null: retries live in this process only
  const metrics::HandlerClock& handler_clock_ = metrics::HandlerClock::process();
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
  bool poller_waiting_ = false;  // the poller sleeps until may_fetch_locked()
  std::mutex stop_mutex_;  // serialises stop(); guards the two fields below
  bool stopped_ = false;
  bool stop_result_ = false;

  // Handled tasks without a key whose engine acks are not sent yet: finish_acked() sends
  // them together, with one lock of each kind instead of four per message, once kAckBatch
  // are here, whenever a worker runs out of tasks, and on every turn of the poller (at
  // least every poll_interval). Until then they keep their in-flight and dispatcher
  // slots, so the window and stop()'s wait_idle() count them as running. Tasks with a
  // key are finished at once: the key's next message runs only after this one is acked.
  static constexpr std::size_t kAckBatch = 32;
  std::mutex acked_mutex_;
  std::vector<Task> acked_tasks_;

  std::atomic<std::uint64_t> received_{0}, acked_{0}, retried_{0}, dead_lettered_{0}, dropped_{0}, duplicates_{0};
  // Per-topic metrics resolved by the poller (its thread only).
  std::unordered_map<std::string, metrics::ConsumedMetrics*> metrics_by_topic_;

  std::thread poller_;
  std::vector<std::thread> workers_;
};

}  // namespace mq::core
