#include "engines/embedded/topics.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <filesystem>

#include "engines/embedded/format.hpp"
#include "engines/embedded/segment.hpp"

namespace mq::engines::embedded {
namespace {

namespace fs = std::filesystem;

std::string format_file_contents(int version) { return fmt::format("{}{}\n", format_marker_prefix, version); }

bool known_format(const std::string& contents) {
  for (int version = 1; version <= format_version; ++version) {
    if (contents == format_file_contents(version)) return true;
  }
  return false;
}

Error foreign(const std::string& path, std::string_view why) {
  return Error(ErrorCode::corruption, fmt::format("foreign_file: {} {} (docs/FORMAT.md section 1)", path, why));
}

void make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw_io("create directory " + path, errno);
}

std::int64_t setting(const std::string& text, std::string_view name) {
  const std::string prefix = std::string(name) + "=";
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line(text.data() + start, end - start);
    if (line.starts_with(prefix)) {
      std::int64_t value = 0;
      std::from_chars(line.data() + prefix.size(), line.data() + line.size(), value);
      return value;
    }
    start = end + 1;
  }
  return 0;
}

}  // namespace

void open_data_dir(const DataDir& dir, bool durable) {
  std::error_code error;
  fs::create_directories(dir.root, error);
  if (error) throw Error(ErrorCode::io, fmt::format("create data dir {}: {}", dir.root, error.message()));
  const std::string marker = dir.root + "/FORMAT";
  if (auto contents = read_small_file(marker)) {
    if (!known_format(*contents)) {
      if (contents->starts_with(format_marker_prefix)) {
        throw Error(ErrorCode::corruption, fmt::format("unsupported_version: {} says '{}'; this build reads "
                                                       "format versions 1 to {} only",
                                                       marker, contents->substr(0, contents->find('\n')),
                                                       format_version));
      }
      throw foreign(marker, "does not hold an mq format marker");
    }
  } else {
    for (const auto& entry : fs::directory_iterator(dir.root)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with(temporary_prefix)) {
        throw foreign(entry.path().string(), "is in a directory without FORMAT: not an mq data dir");
      }
    }
    // Version 1 until a lane exists (require_lane_format): a tree without priorities
    // stays readable by builds that predate lanes.
    replace_file(marker, format_file_contents(1), durable);
  }
  for (const auto& entry : fs::directory_iterator(dir.root)) {
    const std::string name = entry.path().filename().string();
    if (name != "FORMAT" && name != "topics" && name != "groups" && name != "delay" &&
        !name.starts_with(temporary_prefix)) {
      throw foreign(entry.path().string(), "is not part of the embedded format");
    }
  }
  make_directory(dir.topics());
  make_directory(dir.groups());
  make_directory(dir.delay());
}

void require_lane_format(const DataDir& dir, bool durable) {
  const std::string marker = dir.root + "/FORMAT";
  // Replaced atomically; two processes upgrading at once write the same bytes.
  if (read_small_file(marker) == format_file_contents(1)) replace_file(marker, format_file_contents(2), durable);
}

std::optional<TopicSettings> read_topic_settings(const DataDir& dir, const std::string& name) {
  const auto text = read_small_file(dir.topic(name) + "/TOPIC");
  if (!text) return std::nullopt;
  if (setting(*text, "format") != 1 || setting(*text, "partitions") <= 0) {
    throw Error(ErrorCode::corruption, fmt::format("{}/TOPIC: unsupported_version or missing partitions",
                                                   dir.topic(name)));
  }
  TopicSettings settings;
  settings.partitions = static_cast<int>(setting(*text, "partitions"));
  settings.retention = milliseconds(setting(*text, "retention_ms"));
  settings.retention_bytes = static_cast<std::uint64_t>(setting(*text, "retention_bytes"));
  return settings;
}

bool create_topic_dir(const DataDir& dir, const std::string& name, const TopicSettings& settings, bool durable) {
  if (fs::exists(dir.topic(name))) return false;
  const std::string building = dir.topics() + "/" + std::string(temporary_prefix) + random_token();
  make_directory(building);
  try {
    replace_file(building + "/TOPIC",
                 fmt::format("format=1\npartitions={}\nretention_ms={}\nretention_bytes={}\n", settings.partitions,
                             settings.retention.count(), settings.retention_bytes),
                 durable);
    for (int partition = 0; partition < settings.partitions; ++partition) {
      const std::string path = building + "/" + std::to_string(partition);
      make_directory(path);
      File created = open_file(segment_path(path, 0, log_extension), O_WRONLY | O_CREAT);
      if (durable) sync_directory(path);
    }
    if (durable) sync_directory(building);
  } catch (...) {
    fs::remove_all(building);
    throw;
  }
  if (::rename(building.c_str(), dir.topic(name).c_str()) != 0) {
    const int error = errno;
    fs::remove_all(building);
    if (error == EEXIST || error == ENOTEMPTY) return false;  // another process won the race
    throw_io("create topic " + dir.topic(name), error);
  }
  if (durable) sync_directory(dir.topics());
  return true;
}

bool delete_topic_dir(const DataDir& dir, const std::string& name) {
  const std::string doomed = dir.topics() + "/" + std::string(temporary_prefix) + random_token();
  if (::rename(dir.topic(name).c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw_io("delete topic " + dir.topic(name), errno);
  }
  std::error_code error;
  fs::remove_all(doomed, error);
  return true;
}

std::vector<std::string> list_topic_names(const DataDir& dir) { return sorted_entries(dir.topics(), temporary_prefix); }

void create_lane_dir(const DataDir& dir, const std::string& topic, int partition, int priority, bool durable) {
  assert(priority >= 1 && priority <= max_priority);
  const std::string lane = dir.lane(topic, partition, priority);
  if (::access(lane.c_str(), F_OK) == 0) return;
  if (::access((dir.topic(topic) + "/TOPIC").c_str(), F_OK) != 0) {
    throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", topic));
  }
  require_lane_format(dir, durable);
  // Built beside it and renamed into place with its first segment, like a topic: a
  // reader never sees a lane without one.
  const std::string building = dir.topic(topic) + "/" + std::string(temporary_prefix) + random_token();
  if (::mkdir(building.c_str(), 0755) != 0) {
    if (errno == ENOENT) throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", topic));
    throw_io("create directory " + building, errno);
  }
  try {
    File created = open_file(segment_path(building, 0, log_extension), O_WRONLY | O_CREAT);
    if (durable) sync_directory(building);
  } catch (...) {
    fs::remove_all(building);
    throw;
  }
  if (::rename(building.c_str(), lane.c_str()) != 0) {
    const int error = errno;
    std::error_code ignored;
    fs::remove_all(building, ignored);
    if (error == EEXIST || error == ENOTEMPTY) return;  // another writer made it first
    if (error == ENOENT) throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", topic));
    throw_io("create lane " + lane, error);
  }
  if (durable) sync_directory(dir.topic(topic));
}

std::vector<std::pair<int, int>> list_lanes(const DataDir& dir, const std::string& topic) {
  std::vector<std::pair<int, int>> lanes;
  for (const auto& name : sorted_entries(dir.topic(topic), temporary_prefix)) {
    // "<p>.p<k>": anything else in a topic dir (TOPIC, partitions) is not a lane.
    const auto dot = name.find(".p");
    if (dot == std::string::npos || dot == 0 || dot + 3 != name.size()) continue;
    int partition = -1;
    const auto parsed = std::from_chars(name.data(), name.data() + dot, partition);
    const int priority = name.back() - '0';
    if (parsed.ec != std::errc{} || parsed.ptr != name.data() + dot || priority < 1 || priority > max_priority) continue;
    lanes.emplace_back(partition, priority);
  }
  std::sort(lanes.begin(), lanes.end());
  return lanes;
}

TopicWriter::TopicWriter(const DataDir& dir, std::string name, const TopicSettings& settings, LogOptions options)
    : dir_(dir), name_(std::move(name)), settings_(settings), options_(options),
      logs_(static_cast<std::size_t>(settings.partitions) * (max_priority + 1)) {}

PartitionLog& TopicWriter::log(int partition, int priority) {
  std::lock_guard lock(mutex_);
  auto& slot = logs_.at(static_cast<std::size_t>(partition) * (max_priority + 1) + static_cast<std::size_t>(priority));
  if (!slot) {
    if (priority > 0) {
      create_lane_dir(dir_, name_, partition, priority, options_.fsync == FsyncPolicy::always);
    }
    LogOptions options = options_;
    if (settings_.retention.count() > 0) options.retention = settings_.retention;
    if (settings_.retention_bytes > 0) options.retention_bytes = settings_.retention_bytes;
    slot = std::make_unique<PartitionLog>(dir_.lane(name_, partition, priority), options);
  }
  return *slot;
}

std::vector<PartitionLog*> TopicWriter::open_logs() {
  std::lock_guard lock(mutex_);
  std::vector<PartitionLog*> logs;
  for (auto& log : logs_) {
    if (log) logs.push_back(log.get());
  }
  return logs;
}

}  // namespace mq::engines::embedded
