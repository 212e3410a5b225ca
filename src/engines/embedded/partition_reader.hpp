// PartitionReader: reads one partition from an offset on (docs/FORMAT.md sections 4, 7).
//
// Takes no lock: it returns complete, CRC-valid batches only, so it may run while writers
// in any process append. A batch that is incomplete at the end of the file is not yet
// visible (its writer is still writing, or a writer that died left it and the next one
// truncates it). Not thread-safe: one owner (a subscription under its own lock).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engines/embedded/file.hpp"
#include "engines/embedded/format.hpp"
#include "engines/embedded/segment.hpp"

namespace mq::engines::embedded {

class PartitionReader {
 public:
  explicit PartitionReader(std::string directory, std::int64_t offset = 0)
      : directory_(std::move(directory)), next_offset_(offset) {}

  // Continues from `offset` (an offset below the first segment, removed by retention,
  // continues at the first one still there).
  void seek(std::int64_t offset);
  // Appends up to `max` records at or after the position to `out`; returns how many.
  // Throws Error(corruption) naming the file and byte for damage that is not a tail.
  std::size_t read(std::size_t max, std::vector<DecodedRecord>& out);
  // The offset of the next record read() returns.
  std::int64_t position() const { return next_offset_; }

 private:
  bool open_segment();  // the segment holding next_offset_, at its index seek point
  bool follow_roll();   // at the end of a segment: the next one, if it exists

  std::string directory_;
  std::int64_t next_offset_;
  std::int64_t segment_base_ = -1;
  std::int64_t later_segment_ = -1;  // base of the segment after the open one at open, or -1
  // The base_offset the cursor's next batch must have: offsets are contiguous (FORMAT.md
  // section 3), and recovery checks sealed segments only from their last index entry,
  // so a CRC-valid batch out of sequence before it is caught here, not handed out.
  std::int64_t batch_offset_ = 0;
  File file_;
  std::optional<BatchCursor> cursor_;
  // The last batch's records; those from decoded_next_ on are not returned yet. Reused
  // batch after batch, so its capacity stays: no allocation per batch or per record
  // beyond the records' own strings.
  std::vector<DecodedRecord> decoded_;
  std::size_t decoded_next_ = 0;
};

struct LogBounds {
  std::int64_t start = 0;  // first offset still stored
  std::int64_t end = 0;    // next offset to be written
};
// The partition's bounds, without a lock (FORMAT.md "Finding offset N": the end comes
// from the last segment's last index entry and a short scan).
LogBounds read_log_bounds(const std::string& directory);

// The first offset whose record has a timestamp >= `time` (FORMAT.md "Finding time T"),
// or the end offset when there is none.
std::int64_t offset_for_time(const std::string& directory, TimePoint time);

}  // namespace mq::engines::embedded
