// Consumer: runs a handler for every message of its topics, as a member of a group.
//
// A consumer starts when it is created and runs its handler on ConsumerOptions::workers
// threads. A message counts as consumed only after its handler returned ack: only then
// is its offset (or ack) committed, and only contiguously where the engine has offsets.
// Public methods are thread-safe. Move-only; the destructor calls
// stop(ConsumerOptions::stop_timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mq/message.hpp"
#include "mq/options.hpp"

namespace mq {

namespace core {
class ConsumerRuntime;
}

// What a handler decided about one message.
class Outcome {
 public:
  enum class Kind { ack, retry, dead_letter };

  static Outcome ack() { return Outcome(Kind::ack, {}); }
  // Try again later per the group's RetryPolicy; after the last attempt: dead letter.
  static Outcome retry(std::string reason = "retry requested") {
    return Outcome(Kind::retry, std::move(reason));
  }
  // Straight to the group's dead-letter topic, without further attempts.
  static Outcome dead_letter(std::string reason = "dead letter requested") {
    return Outcome(Kind::dead_letter, std::move(reason));
  }

  Kind kind() const { return kind_; }
  const std::string& reason() const { return reason_; }

 private:
  Outcome(Kind kind, std::string reason) : kind_(kind), reason_(std::move(reason)) {}
  Kind kind_;
  std::string reason_;
};

// Called on a worker thread. Throwing counts as Outcome::retry with the exception's
// what() as the reason. May be called concurrently for messages of different keys.
using Handler = std::function<Outcome(const Message&)>;

// Batch consumption (Client::batch_consumer): the handler gets up to max_messages at
// once, gathered for at most `linger` after the first. Its outcome is the batch's: ack
// acks all; retry retries the same batch as a whole after the backoff; after the last
// attempt (or Outcome::dead_letter) each message goes to the dead-letter topic. Keys
// stay in order: a batch holds its keys until it is finished. Each worker waits out a
// failed batch's backoff itself, so other batches run only on other workers.
// A batch also ends early when nothing more can arrive: the consumer's window
// (ConsumerOptions::max_in_flight, shared by every worker's batch) is full. For batches
// of max_messages, set max_in_flight to at least max_messages × workers.
struct BatchOptions {
  std::size_t max_messages = 100;
  milliseconds linger{50};
};
using BatchHandler = std::function<Outcome(const std::vector<Message>&)>;

// Counters of one consumer since it started. Snapshot; thread-safe to read.
struct ConsumerStats {
  std::uint64_t received = 0;       // handed to the handler (every attempt)
  std::uint64_t acked = 0;          // handler returned ack
  std::uint64_t retried = 0;        // failed, scheduled for another attempt
  std::uint64_t dead_lettered = 0;  // moved to the dead-letter topic
  std::uint64_t dropped = 0;        // failed for good with dead_letter off
  std::uint64_t duplicates = 0;     // dropped by dedup: the group had processed the id
  std::uint64_t in_flight = 0;      // fetched and not yet finished (now)
};

class Consumer {
 public:
  Consumer(Consumer&&) noexcept;
  Consumer& operator=(Consumer&&) noexcept;
  ~Consumer();

  // Stops fetching, lets in-flight handlers finish and commits them, then leaves the
  // group. Returns true if everything finished before `deadline`; false if handlers
  // were still running then (their messages are not committed and will be delivered
  // again to the group). Never blocks past the deadline. Idempotent.
  bool stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));

  // Changes ConsumerOptions::max_in_flight while running (minimum 1).
  void set_max_in_flight(int limit);

  ConsumerStats stats() const;
  const ConsumerOptions& options() const;

 private:
  friend class Client;
  explicit Consumer(std::shared_ptr<core::ConsumerRuntime> runtime);
  std::shared_ptr<core::ConsumerRuntime> runtime_;
};

}  // namespace mq
