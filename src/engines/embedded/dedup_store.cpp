#include "engines/embedded/dedup_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <charconv>
#include <filesystem>

#include "engines/embedded/file.hpp"

namespace mq::engines::embedded {
namespace {

constexpr std::size_t kSweepEvery = 4096;
constexpr std::size_t kLongestHexId = 100;  // hex names stay well under NAME_MAX

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An entry: "busy <expiry ms>" or "done <expiry ms>" (wall-clock ms: shared by processes).
struct Entry {
  bool done = false;
  std::int64_t expires_ms = 0;
};

std::optional<Entry> read_entry(const std::string& path) {
  const auto text = read_small_file(path);
  if (!text) return std::nullopt;
  Entry entry;
  const auto space = text->find(' ');
  if (space == std::string::npos) return std::nullopt;  // torn write: as if absent
  entry.done = text->compare(0, space, "done") == 0;
  std::from_chars(text->data() + space + 1, text->data() + text->size(), entry.expires_ms);
  return entry;
}

void write_entry(const std::string& path, bool done, std::int64_t expires_ms) {
  replace_file(path, fmt::format("{} {}", done ? "done" : "busy", expires_ms), /*durable=*/false);
}

std::uint64_t fnv1a(std::string_view text, std::uint64_t seed) {
  std::uint64_t hash = seed;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
  return hash;
}

// Holds the group's dedup LOCK for one operation.
class GroupLock {
 public:
  explicit GroupLock(const std::string& directory) {
    std::filesystem::create_directories(directory);
    const auto path = directory + "/LOCK";
    file_ = open_file(path, O_RDWR | O_CREAT | O_CLOEXEC);
    lock_exclusive(file_.fd(), path);
  }

 private:
  File file_;  // closing it releases the lock
};

}  // namespace

std::string DedupFiles::entry_name(const std::string& id) {
  std::string name = "id-";
  if (id.size() * 2 <= kLongestHexId) {
    constexpr char digits[] = "0123456789abcdef";
    for (unsigned char c : id) {
      name += digits[c >> 4];
      name += digits[c & 15];
    }
    return name;
  }
  return fmt::format("hash-{:016x}{:016x}", fnv1a(id, 0xcbf29ce484222325ull), fnv1a(id, 0x84222325cbf29ce4ull));
}

std::string DedupFiles::directory(const std::string& group) const { return dir_.groups() + "/" + group + "/dedup"; }

DedupFiles::Claim DedupFiles::claim(const std::string& group, const std::string& id, milliseconds lease) {
  std::lock_guard lock(mutex_);
  const auto dir = directory(group);
  GroupLock group_lock(dir);
  if (++operations_ % kSweepEvery == 0) sweep_locked(dir);
  const auto path = dir + "/" + entry_name(id);
  const auto now = now_ms();
  if (auto entry = read_entry(path); entry && entry->expires_ms > now) return entry->done ? Claim::done : Claim::busy;
  write_entry(path, false, now + lease.count());
  return Claim::acquired;
}

void DedupFiles::complete(const std::string& group, const std::string& id, milliseconds window) {
  std::lock_guard lock(mutex_);
  const auto dir = directory(group);
  GroupLock group_lock(dir);
  write_entry(dir + "/" + entry_name(id), true, now_ms() + window.count());
}

void DedupFiles::release(const std::string& group, const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto dir = directory(group);
  GroupLock group_lock(dir);
  const auto path = dir + "/" + entry_name(id);
  if (auto entry = read_entry(path); entry && !entry->done) ::unlink(path.c_str());
}

void DedupFiles::sweep_locked(const std::string& directory) {
  const auto now = now_ms();
  for (const auto& name : sorted_entries(directory, ".tmp")) {
    if (!name.starts_with("id-") && !name.starts_with("hash-")) continue;
    const auto path = directory + "/" + name;
    if (auto entry = read_entry(path); entry && entry->expires_ms <= now) ::unlink(path.c_str());
  }
}

}  // namespace mq::engines::embedded
