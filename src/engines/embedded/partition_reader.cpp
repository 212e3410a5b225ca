#include "engines/embedded/partition_reader.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include "engines/embedded/recovery.hpp"
#include "mq/error.hpp"

namespace mq::engines::embedded {
namespace {

// Segments of a partition, or none when the directory is gone (topic deleted).
std::vector<std::int64_t> segments_of(const std::string& directory) {
  try {
    return list_segments(directory, false);
  } catch (const Error& error) {
    if (error.code() == ErrorCode::corruption) throw;
    return {};
  }
}

}  // namespace

void PartitionReader::seek(std::int64_t offset) {
  next_offset_ = offset;
  decoded_.clear();
  decoded_next_ = 0;
  file_.reset();
  cursor_.reset();
  segment_base_ = -1;
}

bool PartitionReader::open_segment() {
  const auto bases = segments_of(directory_);
  if (bases.empty()) return false;
  auto after = std::upper_bound(bases.begin(), bases.end(), next_offset_);
  if (after == bases.begin()) {
    next_offset_ = bases.front();  // retention removed what we had not read
    after = bases.begin() + 1;
  }
  const std::int64_t base = *(after - 1);
  const std::string path = segment_path(directory_, base, log_extension);
  File file = open_if_exists(path, O_RDONLY);
  if (!file.valid()) return false;  // deleted since the listing; try again next time
  const SeekPoint start = seek_point(read_index_file(segment_path(directory_, base, index_extension)), base,
                                     next_offset_);
  file_ = std::move(file);
  cursor_.emplace(file_.fd(), path, start.position);
  batch_offset_ = start.offset;
  segment_base_ = base;
  later_segment_ = after != bases.end() ? *after : -1;
  return true;
}

bool PartitionReader::follow_roll() {
  if (next_offset_ == segment_base_) return false;
  const std::string next = segment_path(directory_, next_offset_, log_extension);
  if (::access(next.c_str(), F_OK) != 0) {
    // No segment starts where this one ends, yet a later one exists: the records between
    // are gone (a lost or deleted file). Without this check the reader would wait at
    // this offset forever, as if it were the end of the log. Listed again only when the
    // listing at open saw a later segment: the usual case here is the tail of the last.
    if (later_segment_ < 0) return false;
    const auto bases = segments_of(directory_);
    const auto later = std::upper_bound(bases.begin(), bases.end(), next_offset_);
    if (later != bases.end() && !std::binary_search(bases.begin(), bases.end(), next_offset_)) {
      throw Error(ErrorCode::corruption, fmt::format("{}: {} ends at offset {} but the next segment starts at {}",
                                                     damage_name(Damage::missing_segment), cursor_->path(),
                                                     next_offset_, *later));
    }
    return false;
  }
  file_.reset();
  cursor_.reset();
  return open_segment();
}

std::size_t PartitionReader::read(std::size_t max, std::vector<DecodedRecord>& out) {
  std::size_t count = 0;
  while (count < max) {
    if (decoded_next_ < decoded_.size()) {
      const std::size_t take = std::min(max - count, decoded_.size() - decoded_next_);
      const auto first = decoded_.begin() + static_cast<std::ptrdiff_t>(decoded_next_);
      out.insert(out.end(), std::make_move_iterator(first), std::make_move_iterator(first + static_cast<std::ptrdiff_t>(take)));
      decoded_next_ += take;
      count += take;
      continue;
    }
    if (!cursor_ && !open_segment()) break;
    const auto batch = cursor_->peek(file_size(file_.fd(), cursor_->path()));
    if (batch.check != BatchCheck::ok) {
      if (batch.available == 0 && follow_roll()) continue;
      const Damage damage = classify(batch, file_.fd(), cursor_->path());
      // Not yet visible (see the class comment) — unless a later segment existed when
      // this one was opened: a sealed segment is complete, so its torn tail is damage.
      if (is_tail_damage(damage) && later_segment_ < 0) break;
      throw Error(ErrorCode::corruption, fmt::format("{} in {} at byte {} while reading offset {}",
                                                     damage_name(damage), cursor_->path(), batch.position,
                                                     next_offset_));
    }
    if (batch.header.base_offset != batch_offset_) {
      throw Error(ErrorCode::corruption,
                  fmt::format("{} in {} at byte {}: batch has offset {}, expected {}", damage_name(Damage::offset_mismatch),
                              cursor_->path(), batch.position, batch.header.base_offset, batch_offset_));
    }
    cursor_->advance(batch);
    batch_offset_ = batch.header.end_offset();
    if (batch.header.end_offset() <= next_offset_) continue;  // before the position
    decoded_.clear();
    decoded_next_ = 0;
    try {
      decode_records(batch.bytes, batch.header, decoded_, cursor_->path());
    } catch (const Error&) {
      decoded_.clear();  // none of a damaged batch's records is handed out
      throw;
    }
    // Records below the position (a seek into the middle of a batch) are skipped.
    while (decoded_next_ < decoded_.size() && decoded_[decoded_next_].offset < next_offset_) ++decoded_next_;
    next_offset_ = batch.header.end_offset();  // also skips gap batches
  }
  return count;
}

LogBounds read_log_bounds(const std::string& directory) {
  const auto bases = segments_of(directory);
  if (bases.empty()) return {};
  const std::int64_t base = bases.back();
  const std::string path = segment_path(directory, base, log_extension);
  File file = open_if_exists(path, O_RDONLY);
  if (!file.valid()) return {bases.front(), base};
  const auto index = read_index_file(segment_path(directory, base, index_extension));
  SeekPoint start{0, base};
  if (!index.empty()) start = {index.back().position, base + index.back().relative_offset};
  return {bases.front(), scan_segment(file.fd(), path, base, start, nullptr).end_offset};
}

std::int64_t offset_for_time(const std::string& directory, TimePoint time) {
  const std::int64_t target = to_nanoseconds(time);
  const auto bases = segments_of(directory);
  for (std::size_t i = 0; i < bases.size(); ++i) {
    const std::int64_t base = bases[i];
    const std::int64_t limit = i + 1 < bases.size() ? bases[i + 1] : INT64_MAX;
    const auto times = read_time_index_file(segment_path(directory, base, time_index_extension));
    // The last entry older than T: every record before its batch is older still.
    auto first_newer = std::partition_point(times.begin(), times.end(),
                                            [&](const TimeIndexEntry& entry) { return entry.timestamp < target; });
    std::int64_t start = base;
    if (first_newer != times.begin()) start = base + (first_newer - 1)->relative_offset;
    PartitionReader reader(directory, start);
    std::vector<DecodedRecord> records;
    while (reader.position() < limit && reader.read(1024, records) > 0) {
      for (const auto& record : records) {
        if (record.offset >= limit) break;  // the next segment's own index answers for it
        if (to_nanoseconds(record.message.timestamp) >= target) return record.offset;
      }
      records.clear();
    }
  }
  return read_log_bounds(directory).end;
}

}  // namespace mq::engines::embedded
