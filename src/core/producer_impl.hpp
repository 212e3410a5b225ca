// ProducerImpl: validation, id assignment, the async batching thread and close/drain,
// the same for every engine. mq::Producer forwards to it.
//
// Thread-safe. Invariant: every send_async that returned without throwing gets exactly
// one callback, whether the message was stored, failed, or was still queued at close.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
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
  Envelope fill_in(Message message, TimePoint due, TimePoint now, const TraceInjector& trace) const;
  void check_open() const;
  // Appends and waits for the results (up to send_timeout).
  std::vector<AppendResult> append_and_wait(std::vector<Envelope> batch);
  void sender_loop();
  void complete(std::vector<Pending>& batch, std::vector<AppendResult>&& results);

  const std::shared_ptr<Engine> engine_;
  const ProducerOptions options_;
  const bool core_delay_;

  std::atomic<bool> closed_{false};
  std::mutex mutex_;
  std::condition_variable queued_;   // the sender waits for work
  std::condition_variable drained_;  // flush/close wait for unfinished_ == 0
  std::deque<Pending> queue_;  // batches are cut from the front
  std::size_t queued_bytes_ = 0;
  std::size_t unfinished_ = 0;  // send_async calls without their callback yet
  bool stopping_ = false;
  std::thread sender_;
};

}  // namespace mq::core
