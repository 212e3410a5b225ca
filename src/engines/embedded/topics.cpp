#include "engines/embedded/topics.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
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

const std::string format_file_contents = fmt::format("{}{}\n", format_marker_prefix, format_version);

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
    if (*contents != format_file_contents) {
      if (contents->starts_with(format_marker_prefix)) {
        throw Error(ErrorCode::corruption, fmt::format("unsupported_version: {} says '{}'; this build reads "
                                                       "format version {} only",
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
    replace_file(marker, format_file_contents, durable);
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

TopicWriter::TopicWriter(const DataDir& dir, std::string name, const TopicSettings& settings, LogOptions options)
    : dir_(dir), name_(std::move(name)), settings_(settings), options_(options),
      logs_(static_cast<std::size_t>(settings.partitions)) {}

PartitionLog& TopicWriter::log(int partition) {
  std::lock_guard lock(mutex_);
  auto& slot = logs_.at(static_cast<std::size_t>(partition));
  if (!slot) {
    LogOptions options = options_;
    if (settings_.retention.count() > 0) options.retention = settings_.retention;
    if (settings_.retention_bytes > 0) options.retention_bytes = settings_.retention_bytes;
    slot = std::make_unique<PartitionLog>(dir_.partition(name_, partition), options);
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
