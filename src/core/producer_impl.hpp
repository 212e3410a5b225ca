// ProducerImpl: validation, id assignment, the async batching thread and close/drain,
// the same for every engine. mq::Producer forwards to it.
//
// Thread-safe. Invariant: every send_async that returned without throwing gets exactly
// one callback, whether the message was stored, failed, or was still queued at close.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/engine.hpp"
#include "core/tracing.hpp"
#include "mq/producer.hpp"

namespace mq::core {

class ProducerImpl {
 public:
  // core_delay: delayed sends go to core's scheduler (DelayScheduler), not the engine.
  ProducerImpl(std::shared_ptr<Engine> engine, ProducerOptions options, bool core_delay);
  ~ProducerImpl();

  Receipt send(Message message, TimePoint due);
  void send_async(Message message, SendCallback callback);
  std::vector<Receipt> send_batch(std::vector<Message> messages);
  bool flush(std::chrono::milliseconds timeout);
  void close();
  const ProducerOptions& options() const { return options_; }

 private:
  struct Pending {
    Envelope envelope;
    SendCallback callback;
    std::size_t bytes = 0;
  };

  // Validates and fills id/timestamp; throws mq::Error. Called before anything is queued.
  Envelope prepare(Message message, TimePoint due) const;
  // Sets id, timestamp (`now` when unset) and trace headers of a validated message.
  void fill_in(Message& message, TimePoint now, const TraceInjector& trace) const;
  void check_open() const;
  // The sender's state shared with engine callbacks, which may run after an expired
  // batch was given up (and even after this producer is gone): they only touch this.
  struct Signals {
    std::mutex mutex;                 // guards everything the sender shares (below too)
    std::condition_variable wake_sender;  // new work, an answer, closing
  };
  // A batch handed to the engine by send_async's sender and not yet reported.
  struct InFlight {
    std::vector<Pending> batch;
    TimePoint deadline;                   // send_timeout after the hand-over
    bool answered = false;                // by the engine, or given up at the deadline
    std::vector<AppendResult> results;    // empty when given up
    // Adds the batch to the produced counters (null: all failed); empty without metrics.
    std::function<void(const std::vector<AppendResult>*)> count_produced;
  };

  // Appends and waits for the results (up to send_timeout).
  // one_topic: the caller knows that every message of `batch` is for the same user
  // topic (the produced counters then need no pass over the batch).
  std::vector<AppendResult> append_and_wait(std::vector<Envelope> batch, bool one_topic = false);
  void sender_loop();
  // Hands a batch cut from queue_ to the engine; called without the lock.
  void hand_over(const std::shared_ptr<InFlight>& state);
  // Counts and reports an answered (or given-up) batch; called without the lock.
  void finish(InFlight& state);
  void complete(std::vector<Pending>& batch, std::vector<AppendResult>&& results);

  const std::shared_ptr<Engine> engine_;
  const ProducerOptions options_;
  const bool core_delay_;

  std::atomic<bool> closed_{false};
  const std::shared_ptr<Signals> signals_ = std::make_shared<Signals>();
  std::condition_variable drained_;  // flush/close wait for unfinished_ == 0
  // Sends not yet handed to the engine, as batches of at most batch_max_messages; the
  // last one fills up, the sender takes the first.
  struct QueuedBatch {
    std::vector<Pending> items;
    std::size_t bytes = 0;
  };
  std::deque<QueuedBatch> queue_;
  std::size_t queued_count_ = 0;  // messages in queue_
  // Batches the engine has, oldest first; reported in this order, so that callbacks run
  // on the sender thread in send order. At most max_batches_in_flight.
  std::deque<std::shared_ptr<InFlight>> in_flight_;
  std::size_t queued_bytes_ = 0;
  std::size_t unfinished_ = 0;  // send_async calls without their callback yet
  bool stopping_ = false;
  std::thread sender_;
};

}  // namespace mq::core
