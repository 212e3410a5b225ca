#include "engines/embedded/segment.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "engines/embedded/crc32c.hpp"
#include "mq/error.hpp"

namespace mq::engines::embedded {
namespace {

constexpr std::size_t segment_digits = 20;
constexpr std::uint64_t read_ahead_bytes = 1u << 20;

// The base of a segment file name, or -1 when `name` is not "<20 digits><extension>".
std::int64_t parse_base(std::string_view name, std::string_view extension) {
  if (name.size() != segment_digits + extension.size() || !name.ends_with(extension)) return -1;
  std::int64_t base = 0;
  for (std::size_t i = 0; i < segment_digits; ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    base = base * 10 + (name[i] - '0');
  }
  return base;
}

}  // namespace

std::string segment_path(const std::string& directory, std::int64_t base, std::string_view extension) {
  return fmt::format("{}/{:020d}{}", directory, base, extension);
}

std::vector<std::int64_t> list_segments(const std::string& directory, bool remove_orphans) {
  std::vector<std::int64_t> logs;
  std::vector<std::pair<std::int64_t, std::string>> index_files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name == lock_file_name || name.starts_with(temporary_prefix)) continue;
    if (const auto base = parse_base(name, log_extension); base >= 0) {
      logs.push_back(base);
    } else if (const auto index_base = parse_base(name, index_extension); index_base >= 0) {
      index_files.emplace_back(index_base, entry.path().string());
    } else if (const auto time_base = parse_base(name, time_index_extension); time_base >= 0) {
      index_files.emplace_back(time_base, entry.path().string());
    } else {
      throw Error(ErrorCode::corruption, fmt::format("foreign_file: {} is not part of the embedded format "
                                                     "(docs/FORMAT.md section 1)", entry.path().string()));
    }
  }
  if (error) throw Error(ErrorCode::io, fmt::format("list {}: {}", directory, error.message()));
  std::sort(logs.begin(), logs.end());
  if (remove_orphans) {
    for (const auto& [base, path] : index_files) {
      if (!std::binary_search(logs.begin(), logs.end(), base)) ::unlink(path.c_str());
    }
  }
  return logs;
}

std::vector<IndexEntry> read_index_file(const std::string& path) {
  auto bytes = read_small_file(path);
  return bytes ? decode_index(*bytes) : std::vector<IndexEntry>{};
}

std::vector<TimeIndexEntry> read_time_index_file(const std::string& path) {
  auto bytes = read_small_file(path);
  return bytes ? decode_time_index(*bytes) : std::vector<TimeIndexEntry>{};
}

SeekPoint seek_point(const std::vector<IndexEntry>& index, std::int64_t base, std::int64_t offset) {
  SeekPoint point{0, base};
  if (offset <= base) return point;
  // The last entry whose offset is <= `offset`.
  auto after = std::upper_bound(index.begin(), index.end(), static_cast<std::uint64_t>(offset - base),
                                [](std::uint64_t relative, const IndexEntry& entry) {
                                  return relative < entry.relative_offset;
                                });
  if (after == index.begin()) return point;
  const IndexEntry& entry = *(after - 1);
  return SeekPoint{entry.position, base + entry.relative_offset};
}

void BatchCursor::fill(std::uint64_t size, std::uint64_t file_size) {
  const std::uint64_t wanted = std::min(std::max(size, read_ahead_bytes), file_size - position_);
  read_at(fd_, buffer_, wanted, static_cast<off_t>(position_), path_);
  buffer_start_ = position_;
}

BatchCursor::Batch BatchCursor::peek(std::uint64_t file_size) {
  Batch batch;
  batch.position = position_;
  batch.available = file_size > position_ ? file_size - position_ : 0;
  if (batch.available == 0) return batch;  // incomplete: nothing there yet

  auto view = [&]() -> std::string_view {
    const std::uint64_t skip = position_ - buffer_start_;
    const std::uint64_t end = std::min<std::uint64_t>(buffer_.size(), batch.available + skip);
    return std::string_view(buffer_).substr(skip, end - skip);
  };
  const bool buffered = position_ >= buffer_start_ && position_ - buffer_start_ <= buffer_.size();
  if (!buffered) fill(batch_header_size, file_size);
  batch.check = check_batch(view(), batch.header);
  if (batch.check == BatchCheck::incomplete && view().size() < batch.available) {
    // More of the file exists than the buffer holds: read the whole batch.
    const std::uint64_t needed = batch.header.length ? batch.header.total_size() : batch_header_size;
    fill(needed, file_size);
    batch.check = check_batch(view(), batch.header);
  }
  if (batch.check != BatchCheck::ok && batch.check != BatchCheck::incomplete) {
    // Maybe stale bytes: a torn tail since truncated and rewritten. Judge the file itself.
    fill(batch.header.length ? batch.header.total_size() : batch_header_size, file_size);
    batch.check = check_batch(view(), batch.header);
  }
  batch.bytes = view();
  if (batch.check == BatchCheck::ok) batch.bytes = batch.bytes.substr(0, batch.header.total_size());
  return batch;
}

}  // namespace mq::engines::embedded
