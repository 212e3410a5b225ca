// The embedded engine's DedupStore (core/engine.hpp): processed message ids on disk,
// shared by every process using the data dir (docs/FORMAT.md section 7).
//
// One small file per (group, id) under groups/<group>/dedup/, holding the claim's
// state and expiry; every read-modify-write of a group's entries happens under
// flock(LOCK_EX) on groups/<group>/dedup/LOCK, so a claim is atomic across processes.
// Entries are not fsync'd: after an OS crash a duplicate may be handled again
// (at-least-once holds; nothing is lost). Expired entries are swept now and then.
//
// Thread-safe (a mutex per store, plus the file lock across processes).
#pragma once

#include <mutex>
#include <string>

#include "core/engine.hpp"
#include "engines/embedded/topics.hpp"

namespace mq::engines::embedded {

class DedupFiles final : public core::DedupStore {
 public:
  explicit DedupFiles(DataDir dir) : dir_(std::move(dir)) {}

  Claim claim(const std::string& group, const std::string& id, milliseconds lease) override;
  void complete(const std::string& group, const std::string& id, milliseconds window) override;
  void release(const std::string& group, const std::string& id) override;

  // The entry file of `id` (hex of the id, or of a 128-bit hash for long ids).
  static std::string entry_name(const std::string& id);

 private:
  std::string directory(const std::string& group) const;
  void sweep_locked(const std::string& directory);

  const DataDir dir_;
  std::mutex mutex_;
  std::size_t operations_ = 0;  // sweep every so many
};

}  // namespace mq::engines::embedded
