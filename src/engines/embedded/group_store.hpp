// Consumer groups on disk, shared by processes: docs/FORMAT.md section 5.
//
// A member is alive while it holds the flock on its members/ file, and owns a partition
// while it holds the flock on that partition's claims/ file; the kernel drops both when
// the process dies, even by SIGKILL, so nothing needs a heartbeat. Committed offsets are
// rewritten in place by their partition's owner (OffsetFile). Thread-compatible.
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
// offset file. Any process may call it at any time (no lock): see OffsetFile.
std::optional<std::int64_t> read_committed(const GroupPaths& paths, const std::string& topic, int partition,
                                           int priority = 0);

// One lane's committed-offset file, held open by the member that owns the partition
// (holds its claim), the only writer of the file. A commit rewrites one slot in place
// with pwrite (FORMAT.md section 5): no new inode, no rename, one fdatasync when
// durable. A version 1 file is migrated (atomic replace) when opened. Readers without
// the claim see the old or the new value: a slot torn by a crash or caught mid-write
// fails its CRC and the other slot wins. Thread-compatible: the subscription calls it
// under its commit mutex.
class OffsetFile {
 public:
  // Opens the file if it exists (migrating version 1 with `durable`); throws
  // Error(corruption) for a damaged one.
  OffsetFile(const GroupPaths& paths, const std::string& topic, int partition, int priority, bool durable);
  OffsetFile(const OffsetFile&) = delete;
  OffsetFile& operator=(const OffsetFile&) = delete;
  // The offset read at construction or last written; nullopt if none yet.
  std::optional<std::int64_t> committed() const { return committed_; }
  // Creates the file (atomic replace) the first time, then rewrites the older slot.
  void write(std::int64_t offset);

 private:
  void create(std::int64_t offset);
  std::string directory_;
  std::string path_;
  bool durable_;
  File file_;                   // open once the file exists in version 2
  std::uint64_t sequence_ = 0;  // of the newest slot
  std::optional<std::int64_t> committed_;
};
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
