#include "engines/embedded/recovery.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "core/logging.hpp"
#include "mq/error.hpp"

namespace mq::engines::embedded {
namespace {

bool rest_is_zero(int fd, const std::string& path, std::uint64_t position, std::uint64_t size) {
  std::string chunk;
  while (position < size) {
    read_at(fd, chunk, std::min<std::uint64_t>(size - position, 1u << 20), static_cast<off_t>(position), path);
    if (chunk.empty()) return true;
    if (chunk.find_first_not_of('\0') != std::string::npos) return false;
    position += chunk.size();
  }
  return true;
}

Error corruption(Damage damage, const std::string& path, std::uint64_t position, std::int64_t offset) {
  return Error(ErrorCode::corruption,
               fmt::format("{} in {} at byte {} (offset {}); open with ?repair=true to cut the damaged "
                           "part out (docs/FORMAT.md section 8)",
                           damage_name(damage), path, position, offset));
}

void truncate_file(const std::string& path, std::uint64_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) throw_io("truncate " + path, errno);
}

// Rewrites both index files of a segment from a full scan's entries.
void write_indexes(const std::string& directory, std::int64_t base, const SegmentScan& scan) {
  std::string index;
  std::string time_index;
  for (const auto& entry : scan.index) encode_index_entry(index, entry);
  for (const auto& entry : scan.time_index) encode_time_index_entry(time_index, entry);
  replace_file(segment_path(directory, base, index_extension), index, false);
  replace_file(segment_path(directory, base, time_index_extension), time_index, false);
}

bool indexes_match(const std::string& directory, std::int64_t base, const SegmentScan& scan) {
  return read_index_file(segment_path(directory, base, index_extension)) == scan.index &&
         read_time_index_file(segment_path(directory, base, time_index_extension)) == scan.time_index;
}

// Index entries increase in both fields and point inside the log (FORMAT.md section 4).
// One that does not is never used as a starting point: a position past the end would
// make the scan report nothing and a repair extend the log to that size.
bool index_plausible(const std::vector<IndexEntry>& index, std::uint64_t log_size) {
  for (std::size_t i = 0; i < index.size(); ++i) {
    if (index[i].position >= log_size) return false;
    if (i > 0 && (index[i].position <= index[i - 1].position ||
                  index[i].relative_offset <= index[i - 1].relative_offset)) {
      return false;
    }
  }
  return true;
}

// A sealed (not last) segment: checked from its last index entry to its end; the end
// must meet the next segment's base. Returns the scan it ends with.
void check_sealed_segment(const std::string& directory, std::int64_t base, std::int64_t next_base, bool repair) {
  const std::string path = segment_path(directory, base, log_extension);
  File file = open_file(path, O_RDONLY);
  const auto index = read_index_file(segment_path(directory, base, index_extension));
  const bool trusted = index_plausible(index, file_size(file.fd(), path));
  SeekPoint start{0, base};
  if (trusted && !index.empty()) start = SeekPoint{index.back().position, base + index.back().relative_offset};
  SegmentScan scan;
  if (trusted) scan = scan_segment(file.fd(), path, base, start, nullptr);
  const bool ends_right = trusted && scan.damage == Damage::none && scan.end_offset == next_base;
  if (!trusted || (!ends_right && start.position != 0)) {
    // Maybe the index lies rather than the log: judge from the start of the segment.
    IndexBuilder builder;
    SegmentScan full = scan_segment(file.fd(), path, base, SeekPoint{0, base}, &builder);
    if (!trusted || full.damage == Damage::none || full.valid_bytes > start.position) {
      core::log(LogLevel::warning, "embedded: bad_index: {} disagrees with its log; rebuilt",
                segment_path(directory, base, index_extension));
      write_indexes(directory, base, full);
    }
    scan = std::move(full);
  }
  Damage damage = scan.damage;
  if (damage == Damage::none && scan.end_offset < next_base) damage = Damage::missing_segment;
  if (damage == Damage::none && scan.end_offset > next_base) damage = Damage::offset_mismatch;
  if (damage == Damage::none) return;
  if (!repair) throw corruption(damage, path, scan.valid_bytes, scan.end_offset);
  if (scan.end_offset > next_base) throw corruption(damage, path, scan.valid_bytes, scan.end_offset);
  // Repair: cut the damage off and record the lost offsets as a gap up to the next segment.
  std::string gap;
  encode_gap_batch(gap, scan.end_offset, static_cast<std::uint32_t>(next_base - scan.end_offset));
  truncate_file(path, scan.valid_bytes);
  File writer = open_file(path, O_WRONLY);
  if (const int error = write_all_at(writer.fd(), gap, static_cast<off_t>(scan.valid_bytes)); error != 0) {
    throw_io("repair " + path, error);
  }
  core::log(LogLevel::warning, "embedded: repair: {} in {} at byte {}: dropped {} bytes, offsets {}..{} lost",
            damage_name(damage), path, scan.valid_bytes, scan.file_size - scan.valid_bytes, scan.end_offset,
            next_base - 1);
  IndexBuilder builder;
  write_indexes(directory, base, scan_segment(file.fd(), path, base, SeekPoint{0, base}, &builder));
}

}  // namespace

std::string_view damage_name(Damage damage) noexcept {
  switch (damage) {
    case Damage::none: return "none";
    case Damage::torn_tail: return "torn_tail";
    case Damage::tail_checksum: return "tail_checksum";
    case Damage::zero_tail: return "zero_tail";
    case Damage::bad_checksum: return "bad_checksum";
    case Damage::bad_length: return "bad_length";
    case Damage::bad_magic: return "bad_magic";
    case Damage::unsupported_version: return "unsupported_version";
    case Damage::offset_mismatch: return "offset_mismatch";
    case Damage::missing_segment: return "missing_segment";
    case Damage::bad_index: return "bad_index";
  }
  return "unknown";
}

bool is_tail_damage(Damage damage) noexcept {
  return damage == Damage::torn_tail || damage == Damage::tail_checksum || damage == Damage::zero_tail;
}

Damage classify(const BatchCursor::Batch& batch, int fd, const std::string& path) {
  const std::uint64_t end_of_file = batch.position + batch.available;
  switch (batch.check) {
    case BatchCheck::ok: return Damage::none;
    case BatchCheck::incomplete:
      return rest_is_zero(fd, path, batch.position, end_of_file) ? Damage::zero_tail : Damage::torn_tail;
    case BatchCheck::zero_prefix:
      return rest_is_zero(fd, path, batch.position, end_of_file) ? Damage::zero_tail : Damage::bad_magic;
    case BatchCheck::bad_magic: return Damage::bad_magic;
    case BatchCheck::bad_length: return Damage::bad_length;
    case BatchCheck::bad_checksum:
      return batch.position + batch.header.total_size() >= end_of_file ? Damage::tail_checksum
                                                                       : Damage::bad_checksum;
    case BatchCheck::unsupported_version: return Damage::unsupported_version;
  }
  return Damage::bad_magic;
}

SegmentScan scan_segment(int fd, const std::string& path, std::int64_t base, SeekPoint start,
                         IndexBuilder* builder) {
  SegmentScan scan;
  scan.file_size = file_size(fd, path);
  scan.valid_bytes = start.position;
  scan.end_offset = start.offset;
  BatchCursor cursor(fd, path, start.position);
  while (cursor.position() < scan.file_size) {
    const auto batch = cursor.peek(scan.file_size);
    if (batch.check != BatchCheck::ok) {
      scan.damage = classify(batch, fd, path);
      return scan;
    }
    if (batch.header.base_offset != scan.end_offset) {
      scan.damage = Damage::offset_mismatch;
      return scan;
    }
    if (builder) {
      builder->add_batch(batch.position, static_cast<std::uint32_t>(batch.header.base_offset - base),
                         batch.header.max_timestamp, scan.index, scan.time_index);
    }
    cursor.advance(batch);
    scan.valid_bytes = cursor.position();
    scan.end_offset = batch.header.end_offset();
  }
  return scan;
}

RecoveredPartition recover_partition(const std::string& directory, bool repair) {
  RecoveredPartition result;
  result.bases = list_segments(directory, /*remove_orphans=*/true);
  if (result.bases.empty()) {
    File created = open_file(segment_path(directory, 0, log_extension), O_WRONLY | O_CREAT);
    result.bases.push_back(0);
  }
  for (std::size_t i = 0; i + 1 < result.bases.size(); ++i) {
    check_sealed_segment(directory, result.bases[i], result.bases[i + 1], repair);
  }
  const std::int64_t base = result.bases.back();
  const std::string path = segment_path(directory, base, log_extension);
  File file = open_file(path, O_RDONLY);
  SegmentScan scan = scan_segment(file.fd(), path, base, SeekPoint{0, base}, &result.builder);
  if (scan.damage != Damage::none) {
    if (!is_tail_damage(scan.damage) && !repair) throw corruption(scan.damage, path, scan.valid_bytes, scan.end_offset);
    core::log(LogLevel::warning, "embedded: {} in {} at byte {} (offset {}): truncated, {} bytes dropped",
              damage_name(scan.damage), path, scan.valid_bytes, scan.end_offset, scan.file_size - scan.valid_bytes);
    truncate_file(path, scan.valid_bytes);
  }
  if (!indexes_match(directory, base, scan)) write_indexes(directory, base, scan);
  result.active_bytes = scan.valid_bytes;
  result.end_offset = scan.end_offset;
  return result;
}

}  // namespace mq::engines::embedded
