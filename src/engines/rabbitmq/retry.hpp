// RetryStore on RabbitMQ (core/engine.hpp, README.md "Durable retries"): a retry a
// consumer scheduled survives the consumer's restart, and the member that gets the
// message next continues its attempts and backoff.
//
// Per group a durable stream "mq.retry.<group>" of events, each one AMQP message with
// a tab-separated body:
//   save  <id> <attempt> <due ms since the epoch>
//   erase <id>
// The stream is the shared state; every process keeps what it has read of it in memory
// and reads only what was appended since (by stream offset).
//
// Why lookups are cheap: core asks find() for every first delivery of every message.
// Only a message RabbitMQ delivers *again* (the AMQP `redelivered` flag: a member
// stopped or lost its connection while holding it) can have a retry saved by another
// process, so the subscription reports those (note_redelivered) and only they make
// find() catch up with the stream: it appends a marker and reads up to it, which
// includes every save made before the message was given back. One catch-up covers
// every redelivery reported before it started (a restart gives back up to `prefetch`
// messages at once). Every other find() is a lookup in memory.
//
// Thread-safety: every method is thread-safe. Catch-ups of one group run one at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "core/engine.hpp"

namespace mq::engines::rabbitmq {

class RabbitEngine;

// The stream of a group's retry events.
std::string retry_queue(const std::string& group);

class RabbitRetryStore final : public core::RetryStore {
 public:
  explicit RabbitRetryStore(RabbitEngine& engine) : engine_(engine) {}

  void save(const std::string& group, const std::string& id, const Entry& entry) override;
  std::optional<Entry> find(const std::string& group, const std::string& id) override;
  void erase(const std::string& group, const std::string& id) override;

  // The subscription got `id` with the redelivered flag: the next find() for it reads
  // what other processes saved.
  void note_redelivered(const std::string& group, const std::string& id);

 private:
  struct Group {
    std::unordered_map<std::string, Entry> entries;             // live retries read or written
    std::unordered_map<std::string, std::uint64_t> redelivered;  // id -> its note's number
    std::uint64_t notes = 0;         // notes so far
    std::uint64_t read_through = 0;  // notes covered by a finished catch-up
    std::int64_t next_offset = -1;   // stream offset to read from; -1: the first
    bool declared = false;           // this process declared the stream
    bool reading = false;            // a catch-up is running
    std::set<std::string> touched;   // ids saved or erased here while reading
    std::mutex catch_up;             // one catch-up at a time
  };

  // Appends one event, declaring the stream first if this process has not; retries on
  // a failed connection until the RPC timeout.
  void append(const std::string& group, Group& state, const std::string& body);
  void append_once(const std::string& group, Group& state, const std::string& body);
  // Reads the events appended since the last catch-up (requires state.catch_up).
  void catch_up(const std::string& group, Group& state);
  // Requires mutex_. Records a local write of `id` and applies it to the cache.
  void remember(Group& state, const std::string& id, const std::optional<Entry>& entry);

  RabbitEngine& engine_;
  std::mutex mutex_;                     // guards groups_ and every Group field but catch_up
  std::map<std::string, Group> groups_;  // a map: references stay valid
};

}  // namespace mq::engines::rabbitmq
