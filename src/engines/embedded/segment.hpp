// Segment files of one partition directory (docs/FORMAT.md sections 1, 3 and 4): naming,
// listing, and a buffered cursor over the batches of one segment.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engines/embedded/file.hpp"
#include "engines/embedded/format.hpp"

namespace mq::engines::embedded {

inline constexpr std::string_view log_extension = ".log";
inline constexpr std::string_view index_extension = ".index";
inline constexpr std::string_view time_index_extension = ".timeindex";
inline constexpr std::string_view lock_file_name = "LOCK";
inline constexpr std::string_view temporary_prefix = ".tmp-";

// "<dir>/00000000000000001000.log"
std::string segment_path(const std::string& directory, std::int64_t base, std::string_view extension);

// The bases of the partition's segments, ascending. A file the format does not name is
// Error(corruption, "foreign_file ..."). With `remove_orphans` (writers, under the
// partition LOCK), index files whose segment is gone (retention crashed between unlinks)
// are removed.
std::vector<std::int64_t> list_segments(const std::string& directory, bool remove_orphans);

// The index files of a segment, whole entries only (a missing file is empty).
std::vector<IndexEntry> read_index_file(const std::string& path);
std::vector<TimeIndexEntry> read_time_index_file(const std::string& path);

// Where to start reading for `offset` in the segment at `base`: the position and offset
// of the last indexed batch at or before it (FORMAT.md "Finding offset N").
struct SeekPoint {
  std::uint64_t position = 0;
  std::int64_t offset = 0;
};
SeekPoint seek_point(const std::vector<IndexEntry>& index, std::int64_t base, std::int64_t offset);

// Reads batches of one segment file forward, through a buffer. Bytes before the end of
// the last batch found valid never change (the log is append-only there); bytes after
// may (a writer is appending, or truncating a torn tail), so any batch that does not
// check ok is read again from the file before the caller sees the verdict.
// Not thread-safe.
class BatchCursor {
 public:
  BatchCursor(int fd, std::string path, std::uint64_t position)
      : fd_(fd), path_(std::move(path)), position_(position) {}

  struct Batch {
    BatchCheck check = BatchCheck::incomplete;
    BatchHeader header;
    std::string_view bytes;       // the whole batch when check == ok, else what is there
    std::uint64_t position = 0;   // where it starts in the file
    std::uint64_t available = 0;  // bytes from position to the end of the file
  };

  // The batch at the current position, looking at the file up to `file_size`.
  Batch peek(std::uint64_t file_size);
  // Moves past the batch the last peek() returned (which must have been ok).
  void advance(const Batch& batch) { position_ = batch.position + batch.header.total_size(); }
  std::uint64_t position() const { return position_; }
  const std::string& path() const { return path_; }

 private:
  // Makes the buffer hold [position_, position_ + size) or up to the end of the file.
  void fill(std::uint64_t size, std::uint64_t file_size);

  int fd_;
  std::string path_;
  std::uint64_t position_;
  std::string buffer_;
  std::uint64_t buffer_start_ = 0;
};

}  // namespace mq::engines::embedded
