#include "engines/embedded/group_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>

#include "engines/embedded/format.hpp"
#include "engines/embedded/segment.hpp"

namespace mq::engines::embedded {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> entries_of(const std::string& directory) { return sorted_entries(directory, temporary_prefix); }

void make_directories(const std::string& path) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) throw Error(ErrorCode::io, fmt::format("create directory {}: {}", path, error.message()));
}

// offsets/<topic>/<p> or, for a priority lane, <p>.p<priority> (FORMAT.md section 5).
std::string offset_file_name(int partition, int priority) {
  return priority == 0 ? std::to_string(partition) : fmt::format("{}.p{}", partition, priority);
}

}  // namespace

std::optional<std::int64_t> read_committed(const GroupPaths& paths, const std::string& topic, int partition,
                                           int priority) {
  const std::string path = paths.offsets(topic) + "/" + offset_file_name(partition, priority);
  // The owner rewrites one slot at a time, so one read sees at least one whole slot
  // unless two commits overlap it (20 ms apart at the least): a read that finds no
  // valid slot is retried before the file counts as damaged.
  for (int attempt = 1;; ++attempt) {
    const auto bytes = read_small_file(path);
    if (!bytes) return std::nullopt;
    try {
      return decode_offset_file(*bytes, path).offset;
    } catch (const Error&) {
      if (attempt == 3) throw;
    }
  }
}

OffsetFile::OffsetFile(const GroupPaths& paths, const std::string& topic, int partition, int priority, bool durable)
    : directory_(paths.offsets(topic)),
      path_(directory_ + "/" + offset_file_name(partition, priority)),
      durable_(durable) {
  File file = open_if_exists(path_, O_RDWR);
  if (!file.valid()) return;
  std::string bytes;
  read_at(file.fd(), bytes, offset_file_size + 1, 0, path_);
  const auto contents = decode_offset_file(bytes, path_);
  if (contents.version == 1) {
    create(contents.offset);  // migrated: the next commit rewrites a slot in place
    return;
  }
  file_ = std::move(file);
  sequence_ = contents.sequence;
  committed_ = contents.offset;
}

void OffsetFile::create(std::int64_t offset) {
  make_directories(directory_);
  replace_file(path_, encode_offset_file(offset, 1), durable_);
  file_ = open_file(path_, O_RDWR);
  sequence_ = 1;
  committed_ = offset;
}

void OffsetFile::write(std::int64_t offset) {
  if (!file_.valid()) return create(offset);
  const std::uint64_t sequence = sequence_ + 1;
  if (const int error = write_all_at(file_.fd(), encode_offset_slot(sequence, offset),
                                     static_cast<off_t>(offset_slot_position(sequence)));
      error != 0) {
    throw_io("write " + path_, error);
  }
  // The slot is the file's only change and its size stays 64: fdatasync writes just it.
  if (durable_ && ::fdatasync(file_.fd()) != 0) throw_io("fdatasync " + path_, errno);
  sequence_ = sequence;
  committed_ = offset;
}

std::vector<CommittedOffset> list_committed(const GroupPaths& paths) {
  std::vector<CommittedOffset> result;
  for (const auto& topic : entries_of(paths.root() + "/offsets")) {
    for (const auto& name : entries_of(paths.offsets(topic))) {
      int partition = 0;
      int priority = 0;
      const char* end = name.data() + name.size();
      const auto parsed = std::from_chars(name.data(), end, partition);
      if (parsed.ec != std::errc{}) continue;
      if (parsed.ptr != end) {  // "<p>.p<k>"
        if (end - parsed.ptr != 3 || parsed.ptr[0] != '.' || parsed.ptr[1] != 'p') continue;
        priority = parsed.ptr[2] - '0';
        if (priority < 1 || priority > max_priority) continue;
      }
      if (auto offset = read_committed(paths, topic, partition, priority)) {
        result.push_back({topic, partition, *offset, priority});
      }
    }
  }
  return result;
}

void forget_topic_in_groups(const DataDir& dir, const std::string& topic) {
  for (const auto& group : list_group_names(dir)) {
    GroupPaths paths{dir, group};
    std::error_code error;
    fs::remove_all(paths.offsets(topic), error);
  }
}

std::vector<std::string> list_group_names(const DataDir& dir) { return entries_of(dir.groups()); }

MemberRegistration::MemberRegistration(const GroupPaths& paths, const std::vector<std::string>& subscriptions)
    : id_(fmt::format("{:010d}-{}", ::getpid(), random_token())) {
  make_directories(paths.members());
  // Lock before the file gets its real name, so no one ever sees it unlocked and
  // mistakes it for a dead member's.
  const std::string temporary = paths.members() + "/" + std::string(temporary_prefix) + id_;
  file_ = open_file(temporary, O_RDWR | O_CREAT | O_EXCL);
  lock_exclusive(file_.fd(), temporary);
  std::string contents;
  for (const auto& subscription : subscriptions) contents += subscription + "\n";
  if (const int error = write_all_at(file_.fd(), contents, 0); error != 0) throw_io("write " + temporary, error);
  struct stat status {};
  if (::fstat(file_.fd(), &status) != 0) throw_io("stat " + temporary, errno);
  registered_at_ = TimePoint(std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(status.st_mtim.tv_sec) + std::chrono::nanoseconds(status.st_mtim.tv_nsec)));
  path_ = paths.members() + "/" + id_;
  if (::rename(temporary.c_str(), path_.c_str()) != 0) throw_io("rename " + temporary, errno);
}

MemberRegistration::~MemberRegistration() { ::unlink(path_.c_str()); }

std::vector<MemberInfo> live_members(const GroupPaths& paths) {
  std::vector<MemberInfo> members;
  for (const auto& id : entries_of(paths.members())) {
    const std::string path = paths.members() + "/" + id;
    File file = open_if_exists(path, O_RDONLY);
    if (!file.valid()) continue;
    if (try_lock_exclusive(file.fd(), path)) {
      ::unlink(path.c_str());  // its process died: the kernel released the lock
      continue;
    }
    MemberInfo member{id, {}};
    std::string contents;
    read_at(file.fd(), contents, file_size(file.fd(), path), 0, path);
    for (std::size_t start = 0; start < contents.size();) {
      const std::size_t end = std::min(contents.find('\n', start), contents.size());
      if (end > start) member.subscriptions.push_back(contents.substr(start, end - start));
      start = end + 1;
    }
    members.push_back(std::move(member));
  }
  return members;
}

std::optional<PartitionClaim> PartitionClaim::try_claim(const GroupPaths& paths, const std::string& topic,
                                                        int partition) {
  make_directories(paths.claims(topic));
  const std::string path = paths.claims(topic) + "/" + std::to_string(partition);
  File file = open_file(path, O_RDWR | O_CREAT);
  if (!try_lock_exclusive(file.fd(), path)) return std::nullopt;
  return PartitionClaim(std::move(file));
}

PartitionClaim::~PartitionClaim() {
  if (file_.valid()) unlock(file_.fd());
}

}  // namespace mq::engines::embedded
