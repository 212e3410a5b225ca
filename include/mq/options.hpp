// Options structs for producers, consumers, retries and the embedded engine.
//
// Every field has a default; Config::defaults("development"|"production") changes some
// of them. Durations are std::chrono types. Value types, thread-compatible.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mq {

using std::chrono::milliseconds;

// How much durability a send waits for before it is acknowledged.
enum class Acks {
  none,    // fire and forget: the engine accepted it into memory
  leader,  // the storage node wrote it (embedded: written to the OS, fsync per policy)
  all,     // every replica has it (embedded: fsync'd before the acknowledgement)
};

// Where a consumer group with no committed position starts reading.
enum class StartPosition { earliest, latest };

// When the embedded engine calls fdatasync on its logs.
enum class FsyncPolicy {
  always,    // before acknowledging a write; concurrent writers share one fsync
  interval,  // every EmbeddedOptions::fsync_interval; a crash may lose that window
  never,     // leave it to the OS; an OS crash may lose recent writes
};

struct RetryPolicy {
  // Deliveries in all, the first included: 1 means no retry; after the last failed
  // attempt the message goes to the group's dead-letter topic.
  int max_attempts = 3;
  milliseconds initial_backoff{100};   // wait before the 2nd attempt
  double multiplier = 2.0;             // each further wait is this many times longer
  milliseconds max_backoff{10'000};    // cap on any single wait
  double jitter = 0.2;                 // each wait is randomised by +-this fraction

  // The wait before attempt `next_attempt` (>= 2), without jitter.
  milliseconds backoff_before(int next_attempt) const;
};

// Idempotent consumption: a message id the group processed within `window` is dropped
// (acked without calling the handler). The store is the engine's when it has one shared
// by processes (embedded: on disk; Redis), else in-process (bounded by max_entries).
struct DedupOptions {
  bool enabled = false;
  milliseconds window{24ll * 3600 * 1000};
  // How long one member may work on a message before another member may take it (a
  // member that died mid-handler must not make its message count as processed).
  milliseconds lease{60'000};
  std::size_t max_entries = 1'000'000;  // in-process store only; oldest forgotten first
};

struct ProducerOptions {
  Acks acks = Acks::leader;
  // send_async waits up to this long to fill a batch; 0 sends each message at once.
  milliseconds linger{5};
  std::size_t batch_max_messages = 1000;     // a batch is sent when it has this many
  std::size_t max_message_bytes = 1 << 20;   // value + key + headers; larger is an error
  // Bytes send_async may hold unsent; past it send_async fails with limit_exceeded
  // (it never blocks the caller and never drops silently).
  std::size_t max_buffered_bytes = 64u << 20;
  milliseconds send_timeout{30'000};   // a sync send waits this long for its ack
  milliseconds close_timeout{30'000};  // close() and the destructor drain this long
};

struct ConsumerOptions {
  std::string group;                // required; members of one group share the messages
  std::vector<std::string> topics;  // names or patterns ("order.*", "order.#")
  int workers = 4;                  // handler threads
  // Messages handed to handlers and not yet finished, across all partitions. The
  // consumer fetches no more while this many are open, and fetches again once half
  // are finished or the handlers run out of messages. Minimum 1. The default is NATS JetStream's max_ack_pending (1,000)
  // rounded up; at 256 the poller and the workers took turns sleeping and one
  // embedded consumer handled 1.26-1.39 M msgs/s instead of 1.48-1.80 M (bench/RESULTS.md).
  // Memory held is up to this many messages: lower it for large ones.
  int max_in_flight = 1024;
  StartPosition start = StartPosition::latest;  // for a group with no committed offset
  // Same key: one at a time, in send order (the default). false: keys run in parallel.
  bool ordered_by_key = true;
  RetryPolicy retry;
  // After the last attempt: true moves the message to mq.dlq.<group>; false drops it
  // (counted as failed and logged).
  bool dead_letter = true;
  DedupOptions dedup;
  milliseconds stop_timeout{30'000};  // the destructor's graceful-stop deadline
  // Longest a fetch blocks; bounds stop latency. Also the longest a handled message's
  // ack waits before it goes to the engine: acks of messages without a key (or with
  // ordered_by_key off) are sent in batches of up to 32, or when a worker runs out of
  // messages, or on the poller's next turn (a handler that never returns does not hold
  // back the acks of the messages handled before it).
  milliseconds poll_interval{100};
};

struct EmbeddedOptions {
  FsyncPolicy fsync = FsyncPolicy::interval;
  milliseconds fsync_interval{100};             // for FsyncPolicy::interval
  std::uint64_t segment_bytes = 64ull << 20;    // roll to a new segment past this size
  milliseconds retention{7ll * 24 * 3600 * 1000};  // delete segments older; 0 keeps all
  std::uint64_t retention_bytes = 0;            // per partition; 0 means no size limit
};

}  // namespace mq
