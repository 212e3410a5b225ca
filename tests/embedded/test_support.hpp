// Shared helpers of the embedded engine's tests: temporary data dirs, messages, log
// capture, and waiting on conditions with deadlines.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/engine.hpp"
#include "engines/embedded/format.hpp"
#include "engines/embedded/partition_log.hpp"
#include "mq/log.hpp"
#include "mq/message.hpp"

namespace mq::engines::embedded::test {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Message make_message(const std::string& value, std::optional<std::string> key = std::nullopt);
// Appends one batch of messages "prefix-0".."prefix-(n-1)"; returns the base offset.
std::int64_t append_values(PartitionLog& log, const std::string& prefix, int count);
// Every record of the partition from `offset` on.
std::vector<DecodedRecord> read_all(const std::string& directory, std::int64_t offset = 0);
std::string read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::string& bytes);
// The inode number of `path` (a file rewritten in place keeps it; a rename changes it).
std::uint64_t inode_of(const std::string& path);

// Collects mq's log messages while alive.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  bool contains(const std::string& text) const;
  std::string text() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Polls (acking every record) until `expected` records arrived or 20 s passed.
std::vector<core::Record> drain(core::Subscription& subscription, std::size_t expected);

// Polls `condition` every millisecond until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace mq::engines::embedded::test
