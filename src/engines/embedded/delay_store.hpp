// Durable delayed delivery (send_after / send_at): docs/FORMAT.md section 6.
//
// Any process stores delayed messages in delay/log. One process at a time — the one
// holding delay/LOCK — is the mover: it delivers due messages to their topics, recording
// intent and completion in delay/JOURNAL so that each is delivered exactly once, even if
// a process dies at any point. When the mover dies, another process with the engine
// open takes over within the housekeeping interval. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <thread>

#include "engines/embedded/partition_log.hpp"
#include "engines/embedded/partition_reader.hpp"

namespace mq::engines::embedded {

class EmbeddedEngine;

class DelayStore {
 public:
  explicit DelayStore(EmbeddedEngine& engine);
  ~DelayStore();
  DelayStore(const DelayStore&) = delete;
  DelayStore& operator=(const DelayStore&) = delete;

  // Stores delayed records (each with its DelayTarget); durable per `durable`.
  Status add(std::span<const RecordInput> records, bool durable);
  // Stops the mover thread (and gives up the mover role). Idempotent.
  void stop();
  // Whether this process is the mover now (for tests).
  bool is_mover() const;

 private:
  void mover_loop();
  bool try_become_mover();
  void load();  // journal and delay log, once this process is the mover
  void read_new_records();
  std::chrono::nanoseconds deliver_due();
  void append_journal(std::string_view entries, bool durable);
  void compact_if_idle();

  EmbeddedEngine& engine_;
  const std::string directory_;  // delay/
  const bool durable_moves_;     // fsync always: intents and moves are fdatasync'd
  PartitionLog log_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool added_ = false;  // this process stored something: look at the log now
  bool mover_ = false;

  // Mover state: used by the mover thread only.
  File lock_file_;
  File journal_;
  std::uint64_t journal_bytes_ = 0;
  std::unique_ptr<PartitionReader> reader_;
  std::map<std::pair<std::int64_t, std::int64_t>, DecodedRecord> pending_;  // (due ns, sequence)

  std::thread mover_thread_;
};

}  // namespace mq::engines::embedded
