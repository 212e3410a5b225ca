// The embedded engine's RetryStore (core/engine.hpp): scheduled retries on disk, so
// that a consumer process that restarts (or another member taking over) continues a
// message's attempts and backoff (docs/FORMAT.md section 6b).
//
// One small file per (group, id) under groups/<group>/retry/ holding "ATTEMPT DUE_MS".
// Lookups are on the hot path (every fresh delivery), so each group's entry names are
// cached and the directory is listed again only when its mtime changed, checked at
// most every kRecheck: a retry saved by another process within that time of its
// redelivery may be missed (the message then counts as attempt 1 again — at-least-once
// holds). Entries are not fsync'd. Thread-safe.
#pragma once

#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "core/engine.hpp"
#include "engines/embedded/topics.hpp"

namespace mq::engines::embedded {

class RetryFiles final : public core::RetryStore {
 public:
  static constexpr std::chrono::milliseconds kRecheck{10};

  explicit RetryFiles(DataDir dir) : dir_(std::move(dir)) {}

  void save(const std::string& group, const std::string& id, const Entry& entry) override;
  std::optional<Entry> find(const std::string& group, const std::string& id) override;
  void erase(const std::string& group, const std::string& id) override;

 private:
  struct Cache {
    std::set<std::string> names;
    timespec modified{};
    std::chrono::steady_clock::time_point checked{};
  };
  std::string directory(const std::string& group) const { return dir_.groups() + "/" + group + "/retry"; }
  void refresh_locked(const std::string& group, Cache& cache);

  const DataDir dir_;
  std::mutex mutex_;
  std::map<std::string, Cache> groups_;
};

}  // namespace mq::engines::embedded
