// The engine interface: the one contract every engine under src/engines/ implements.
//
// Core (producer, consumer runtime, retries, dead letters, validation) sits above it and
// is the same for every engine. Everything an engine receives has been validated by
// core: names follow DESIGN.md, sizes are within limits, message ids and timestamps are
// set. Engines map their library's errors to mq::Status/mq::Error in one place each.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mq/admin.hpp"
#include "mq/capabilities.hpp"
#include "mq/config.hpp"
#include "mq/error.hpp"
#include "mq/message.hpp"

namespace mq::core {

// What an engine can do (public: mq/capabilities.hpp). Core and the conformance suite
// read it; a conformance case that needs a capability the engine lacks is skipped with
// the capability's name.
using Capabilities = mq::Capabilities;

// A message on its way in, with what only core sets.
struct Envelope {
  Message message;
  TimePoint due{};  // zero: deliver now; otherwise not before this time
};

struct AppendResult {
  Status status;
  Receipt receipt;
};

// Called exactly once per append(), with one result per envelope in order. May run on
// the calling thread before append() returns, or later on an engine thread; it must
// not call back into the engine's append() synchronously.
using AppendCallback = std::function<void(std::vector<AppendResult>&&)>;

// A delivered message and what the engine needs to acknowledge it.
struct Record {
  Message message;          // partition and offset filled in
  std::uint64_t token = 0;  // engine-private, passed back in ack()
};

struct SubscriptionSpec {
  std::string group;
  std::vector<std::string> topics;  // validated names and patterns; mq.* only by name
  StartPosition start = StartPosition::latest;
  // The member holds records unacked until some later time (core's delay scheduler),
  // not while a handler runs: when the group takes a partition away it is given up at
  // once instead of after its records are acked, and the holder drops them (owns()).
  bool holds_records = false;
};

// One member of a consumer group. Created by Engine::subscribe, used by one consumer
// runtime.
class Subscription {
 public:
  virtual ~Subscription() = default;

  // Blocks up to `timeout` (or until wakeup()) and returns at most `max` records from
  // the partitions this member owns, each partition's records in offset order.
  // Called from one thread at a time. Returns an empty vector on timeout.
  virtual std::vector<Record> poll(std::size_t max, std::chrono::milliseconds timeout) = 0;

  // The record is finished for this group (handled, or moved to the dead-letter topic):
  // it must not be delivered to the group again. Thread-safe, any order. Offset engines
  // commit only up to the lowest record not yet finished (core::OffsetFrontier); an
  // engine releases a partition it must give up only after every record it delivered
  // from that partition has been finished, so that no message is handled by two members.
  // An engine may batch commits: what is acked is committed by a later ack, poll() or
  // close(), so a consumer that keeps polling sees its commits promptly.
  virtual void ack(const Record& record) = 0;
  // ack() of each record. The consumer runtime acks what a worker finished back to back
  // this way; an engine that takes a lock per ack takes it once here.
  virtual void ack_all(std::span<const Record* const> records) {
    for (const Record* record : records) ack(*record);
  }

  // Makes a blocked poll() return soon. Thread-safe.
  virtual void wakeup() = 0;

  // False once the record's partition was given up by this member (holds_records): the
  // record goes to the partition's next owner, and a holder must drop it, not act on it.
  // Engines that never take a delivered record away keep this default.
  virtual bool owns(const Record&) const { return true; }

  // Commits what was acked and leaves the group; records delivered and not acked are
  // delivered again to the group. Idempotent; poll() must not be running.
  virtual void close() = 0;
};

// Remembers which message ids a consumer group has processed, for idempotent
// consumption (ConsumerOptions::dedup, C20). Keys are (group, message id). Thread-safe;
// engines whose store is shared by processes (embedded on disk, Redis) make claims
// atomic across processes.
class DedupStore {
 public:
  enum class Claim {
    acquired,  // first time: process it, then complete() or release()
    done,      // processed within the window: drop it (ack without handling)
    busy,      // another member holds a live claim: try again later
  };
  virtual ~DedupStore() = default;
  // Claims `id` for `lease` (a member that dies mid-processing loses its claim when the
  // lease ends, so its redelivered message is processed again, not dropped).
  virtual Claim claim(const std::string& group, const std::string& id, milliseconds lease) = 0;
  // The handler succeeded: `id` counts as processed for `window` from now.
  virtual void complete(const std::string& group, const std::string& id, milliseconds window) = 0;
  // The handler failed: the claim ends, a retry may claim it again.
  virtual void release(const std::string& group, const std::string& id) = 0;
};

// Remembers retries a consumer group has scheduled, so that a retry survives the
// restart of the consumer process (issue 5: "a retry due in 30 s is not lost"): the
// message itself stays unacked and is delivered again; this store gives the delivery
// its attempt number and due time back. Keys are (group, message id). Thread-safe.
class RetryStore {
 public:
  struct Entry {
    int attempt = 1;   // the attempt the next delivery is
    TimePoint due{};   // not before this time
  };
  virtual ~RetryStore() = default;
  virtual void save(const std::string& group, const std::string& id, const Entry& entry) = 0;
  virtual std::optional<Entry> find(const std::string& group, const std::string& id) = 0;
  virtual void erase(const std::string& group, const std::string& id) = 0;
};

// One engine instance, shared by every producer, consumer and admin of a Client.
// Every method is thread-safe.
class Engine {
 public:
  virtual ~Engine() = default;

  virtual const Capabilities& capabilities() const = 0;

  // Stores the batch and reports each message's outcome through `done`. Envelopes with
  // a due time are only appended here by engines with native_delay.
  virtual void append(std::vector<Envelope> batch, Acks acks, AppendCallback done) = 0;

  // Joins `spec.group` as a new member. Throws on invalid specs or connection failure.
  virtual std::unique_ptr<Subscription> subscribe(const SubscriptionSpec& spec) = 0;

  // Admin. Throw mq::Error (not_found, already_exists, ...).
  virtual void create_topic(const std::string& name, const TopicOptions& options) = 0;
  virtual void delete_topic(const std::string& name) = 0;
  virtual std::vector<TopicInfo> list_topics() = 0;  // internal topics included
  virtual std::vector<std::string> list_groups() = 0;
  virtual GroupInfo describe_group(const std::string& group) = 0;

  // The engine's own dedup store (shared by processes), or nullptr: core then uses a
  // bounded in-process store.
  virtual std::shared_ptr<DedupStore> dedup_store() { return nullptr; }
  // The engine's durable retry store, or nullptr: retries then live in the consumer
  // process only (a restart delivers the message again as attempt 1, at once).
  virtual std::shared_ptr<RetryStore> retry_store() { return nullptr; }

  // Flushes and releases resources; later calls fail with ErrorCode::closed. Idempotent.
  virtual void close() = 0;
};

// Engine::append made synchronous: the results, or nullopt when the engine has not
// answered within `timeout` (milliseconds::max(): wait as long as it takes). The
// callback's state outlives a timed-out wait, so a late answer is harmless.
std::optional<std::vector<AppendResult>> append_and_wait(Engine& engine, std::vector<Envelope> batch, Acks acks,
                                                         milliseconds timeout);

// Builds the engine for a parsed URL. Throws invalid_argument for a bad URL,
// not_supported for a scheme this build lacks, connection for an unreachable server.
std::shared_ptr<Engine> open_engine(const std::string& url, const Config& config);

}  // namespace mq::core
