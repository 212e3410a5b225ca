// Checking segments and recovering a partition on open: docs/FORMAT.md section 8.
//
// Each kind of damage has a name (Damage) that appears in logs and error messages with
// the file and byte position. Tail damage of the last segment (a writer died
// mid-write) is truncated; damage anywhere else is Error(corruption) unless the caller
// asked for repair.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engines/embedded/format.hpp"
#include "engines/embedded/segment.hpp"

namespace mq::engines::embedded {

enum class Damage {
  none,
  torn_tail,            // last batch extends past the end of the file
  tail_checksum,        // last batch (ending exactly at end of file) fails its CRC
  zero_tail,            // the rest of the file is zero bytes
  bad_checksum,         // a batch followed by more data fails its CRC
  bad_length,           // length field out of range
  bad_magic,            // not "MQLB" where a batch must start
  unsupported_version,  // a CRC-valid batch of an unknown version
  offset_mismatch,      // a batch or segment does not start where the previous one ended
  missing_segment,      // a segment ends before the next one's base: data is missing
  bad_index,            // an index entry disagrees with the log (rebuilt, not an error)
};
std::string_view damage_name(Damage damage) noexcept;
// Damage a writer may truncate when it is at the end of the last segment.
bool is_tail_damage(Damage damage) noexcept;

// The verdict for a batch the cursor returned that did not check ok. `fd`/`path` let it
// look at the rest of the file (zero_tail needs every remaining byte to be zero).
Damage classify(const BatchCursor::Batch& batch, int fd, const std::string& path);

struct SegmentScan {
  std::uint64_t valid_bytes = 0;    // end of the last good batch
  std::int64_t end_offset = 0;      // offset after the last good batch
  std::uint64_t file_size = 0;
  Damage damage = Damage::none;     // what stopped the scan before the end of the file
  std::vector<IndexEntry> index;    // entries for the scanned batches (builder given)
  std::vector<TimeIndexEntry> time_index;
};

// Scans the open segment `fd` from `start` (a batch boundary) to its end. With a
// builder, collects the index entries of every batch scanned.
SegmentScan scan_segment(int fd, const std::string& path, std::int64_t base, SeekPoint start,
                         IndexBuilder* builder);

// The state of a partition after recovery; what its writer continues from.
struct RecoveredPartition {
  std::vector<std::int64_t> bases;  // segments, ascending; never empty
  std::uint64_t active_bytes = 0;   // valid bytes of the last segment
  std::int64_t end_offset = 0;
  IndexBuilder builder;             // index state of the last segment
};

// Checks and repairs the partition directory. Requires the partition LOCK (no writer
// runs meanwhile). Creates the first segment of an empty partition. Throws
// Error(corruption) for damage that is not a tail, unless `repair`.
RecoveredPartition recover_partition(const std::string& directory, bool repair);

}  // namespace mq::engines::embedded
