// fuzz.embedded.recovery: arbitrary bytes as the files of one partition directory, run
// through the code a writer runs on open (recover_partition: docs/FORMAT.md section 8),
// then read back the way a consumer does (PartitionReader: BatchCursor + decode_records).
//
// Input: a 5-byte harness header, then the data.
//   byte 0   flags: bit 0 reseal CRCs (see fuzz_support.hpp), bit 1 open with repair,
//            bit 2 two segments (a sealed one, then the last one)
//   byte 1   base offset of the second segment
//   byte 2   entries of the sealed segment's .index, taken from the end of the data
//   byte 3-4 bytes of the data in the sealed segment (u16 little-endian, capped)
// Properties beyond "no crash, no sanitizer report": recovery throws nothing but
// Error(corruption) (damage it must not cut); afterwards a reader sees increasing offsets
// up to the recovered end (or Error(corruption) for damage recovery does not look at),
// and a second recovery finds nothing to change.
#include <cstdlib>
#include <string>
#include <vector>

#include <fcntl.h>

#include "engines/embedded/format.hpp"
#include "engines/embedded/partition_reader.hpp"
#include "engines/embedded/recovery.hpp"
#include "engines/embedded/segment.hpp"
#include "fuzz_support.hpp"

namespace {
using namespace mq::engines::embedded;

void require(bool condition) {
  if (!condition) std::abort();
}

// Reads the partition the way a consumer does, from the first offset to the end.
// Recovery checks sealed segments only from their last index entry on (FORMAT.md
// section 8), so damage before it is found here, as Error(corruption).
void read_back(const std::string& directory, const RecoveredPartition& recovered) {
  PartitionReader reader(directory, recovered.bases.front());
  std::vector<DecodedRecord> records;
  std::int64_t previous = -1;
  try {
    while (reader.read(1024, records) > 0) {
      for (const auto& record : records) {
        require(record.offset > previous && record.offset < recovered.end_offset);
        previous = record.offset;
      }
      records.clear();
    }
  } catch (const mq::Error& error) {
    require(error.code() == mq::ErrorCode::corruption);
    return;
  }
  require(reader.position() == recovered.end_offset);
  require(read_log_bounds(directory).end == recovered.end_offset);
  const auto first_recent = offset_for_time(directory, from_nanoseconds(1'700'000'000'000'000'000));
  require(first_recent >= recovered.bases.front() && first_recent <= recovered.end_offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool silenced = (mq::fuzz::silence_log(), true);
  static_cast<void>(silenced);
  if (size < 5) return 0;
  const std::uint8_t flags = data[0];
  std::string bytes(reinterpret_cast<const char*>(data) + 5, size - 5);
  const std::string& directory = mq::fuzz::scratch_directory();
  mq::fuzz::clear_directory(directory);

  std::string index;
  if (flags & 4) {
    const std::size_t index_bytes = std::min<std::size_t>(data[2] * index_entry_size, bytes.size());
    index = bytes.substr(bytes.size() - index_bytes);
    bytes.resize(bytes.size() - index_bytes);
    const std::size_t split = std::min<std::size_t>(data[3] | data[4] << 8, bytes.size());
    std::string sealed = bytes.substr(0, split);
    bytes.erase(0, split);
    if (flags & 1) mq::fuzz::reseal_batches(sealed);
    mq::fuzz::write_file(segment_path(directory, 0, log_extension), sealed);
    mq::fuzz::write_file(segment_path(directory, 0, index_extension), index);
  }
  if (flags & 1) mq::fuzz::reseal_batches(bytes);
  const std::int64_t last_base = (flags & 4) ? data[1] : 0;
  // A zero base with two segments would be the same file: keep the sealed one only.
  if (!(flags & 4) || last_base != 0) mq::fuzz::write_file(segment_path(directory, last_base, log_extension), bytes);

  const bool repair = (flags & 2) != 0;
  try {
    const RecoveredPartition first = recover_partition(directory, repair);
    read_back(directory, first);
    const RecoveredPartition second = recover_partition(directory, false);
    require(second.bases == first.bases && second.end_offset == first.end_offset &&
            second.active_bytes == first.active_bytes);
  } catch (const mq::Error& error) {
    require(error.code() == mq::ErrorCode::corruption);
  }
  return 0;
}
