// Durable delayed delivery for engines without native delay (DESIGN.md: "mq
// scheduler"), the same for every such engine.
//
// A delayed send is stored at once, durably, in the reserved topic mq.delay: the
// message keeps its id, key, value and headers and gains two headers, its due time and
// its target topic (to_delay_envelope). Each Client that consumes runs a DelayScheduler:
// a member of the group mq.scheduler on mq.delay that holds every record it fetched
// until the record is due, appends it to its target topic, and only then acks it. A
// scheduler that dies before its ack leaves the record to the next member (or itself
// after a restart), so a delayed message is never lost.
//
// Several schedulers (one per consuming Client, in any process) share mq.delay's
// partitions. When the group moves a partition to another scheduler, this one gives it
// up at once (SubscriptionSpec::holds_records: no waiting for records that may be due
// in an hour) and drops what it held of it; the new owner fetches them again.
//
// What this costs: a crash between the append and the ack delivers that message twice
// (same id — consumers with dedup drop the second). On offset engines the commit stops
// at the lowest record not yet due; engines that can store more beside it (Kafka: the
// acked offsets above it, in the commit's metadata) spare the next owner the records
// already moved, others move them again. Held records are bounded by kMaxHeld; past it the scheduler stops
// fetching until some fall due.
//
// Thread-safe: one thread of its own; stop() may be called from any thread.
#pragma once

#include <memory>
#include <queue>
#include <thread>
#include <vector>

#include "core/engine.hpp"

namespace mq::core {

// The record a delayed send stores in mq.delay instead of `envelope` (which has a due time).
Envelope to_delay_envelope(Envelope envelope);
// The message a held record becomes at its due time: the original topic and headers.
Message from_delay_record(const Message& stored);

class DelayScheduler {
 public:
  static constexpr std::size_t kMaxHeld = 100'000;

  // Joins mq.scheduler and starts moving. Throws like Engine::subscribe.
  explicit DelayScheduler(std::shared_ptr<Engine> engine);
  ~DelayScheduler();
  DelayScheduler(const DelayScheduler&) = delete;
  DelayScheduler& operator=(const DelayScheduler&) = delete;

  // Stops fetching, leaves held records unacked (the group gets them again). Idempotent.
  void stop();

 private:
  struct Held {
    TimePoint due;
    Record record;
    bool operator>(const Held& other) const { return due > other.due; }
  };
  void run();
  // Appends every held record that is due; acks those stored, holds the rest again.
  void move_due();

  const std::shared_ptr<Engine> engine_;
  std::unique_ptr<Subscription> subscription_;
  std::priority_queue<Held, std::vector<Held>, std::greater<>> held_;  // thread-owned
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace mq::core
