// Consumer groups on disk, shared by processes: docs/FORMAT.md section 5.
//
// A member is alive while it holds the flock on its members/ file, and owns a partition
// while it holds the flock on that partition's claims/ file; the kernel drops both when
// the process dies, even by SIGKILL, so nothing needs a heartbeat. Committed offsets are
// replaced atomically (temporary file + rename). Thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engines/embedded/file.hpp"
#include "engines/embedded/topics.hpp"

namespace mq::engines::embedded {

struct GroupPaths {
  DataDir dir;
  std::string group;
  std::string root() const { return dir.groups() + "/" + group; }
  std::string members() const { return root() + "/members"; }
  std::string claims(const std::string& topic) const { return root() + "/claims/" + topic; }
  std::string offsets(const std::string& topic) const { return root() + "/offsets/" + topic; }
};

// The committed offset of a partition's lane (priority 0: the partition itself), or
// nullopt if the group never committed one. Throws Error(corruption) for a damaged
// offset file.
std::optional<std::int64_t> read_committed(const GroupPaths& paths, const std::string& topic, int partition,
                                           int priority = 0);
void write_committed(const GroupPaths& paths, const std::string& topic, int partition, std::int64_t offset,
                     bool durable, int priority = 0);
struct CommittedOffset {
  std::string topic;
  int partition = 0;
  std::int64_t offset = 0;
  int priority = 0;  // the lane (FORMAT.md section 1a)
};
std::vector<CommittedOffset> list_committed(const GroupPaths& paths);
// Removes every group's offsets and claims of a deleted topic.
void forget_topic_in_groups(const DataDir& dir, const std::string& topic);
std::vector<std::string> list_group_names(const DataDir& dir);

struct MemberInfo {
  std::string id;  // "<pid>-<random>": ordered the same way in every process
  std::vector<std::string> subscriptions;
};

// This process's membership: the members/ file, locked for as long as it exists.
class MemberRegistration {
 public:
  MemberRegistration(const GroupPaths& paths, const std::vector<std::string>& subscriptions);
  ~MemberRegistration();
  MemberRegistration(const MemberRegistration&) = delete;
  MemberRegistration& operator=(const MemberRegistration&) = delete;
  const std::string& id() const { return id_; }
  // When the member file was written, by the file system's clock: compare it with other
  // files' times (topic creation), never with Clock::now(), whose clock the kernel's
  // coarse file timestamps lag by up to a tick.
  TimePoint registered_at() const { return registered_at_; }

 private:
  std::string path_;
  std::string id_;
  File file_;
  TimePoint registered_at_{};
};

// Live members, sorted by id. Files of dead members (lock free) are removed on the way.
std::vector<MemberInfo> live_members(const GroupPaths& paths);

// Ownership of one partition for a group: the flock on its claims/ file. Released by
// the destructor (or the death of the process). Move-only.
class PartitionClaim {
 public:
  static std::optional<PartitionClaim> try_claim(const GroupPaths& paths, const std::string& topic, int partition);
  PartitionClaim(PartitionClaim&&) = default;
  PartitionClaim& operator=(PartitionClaim&&) = default;
  ~PartitionClaim();

 private:
  explicit PartitionClaim(File file) : file_(std::move(file)) {}
  File file_;
};

}  // namespace mq::engines::embedded
