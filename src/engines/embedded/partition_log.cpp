#include "engines/embedded/partition_log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "core/logging.hpp"
#include "engines/embedded/endian.hpp"
#include "engines/embedded/recovery.hpp"
#include "engines/embedded/segment.hpp"

namespace mq::engines::embedded {
namespace {

// Appended bytes after which start_writeback() hands them to the disk.
constexpr std::uint64_t writeback_bytes = 1 << 20;

LogOptions clamped(LogOptions options) {
  options.segment_bytes = std::clamp<std::uint64_t>(options.segment_bytes, 4096, 1ull << 30);
  return options;
}

// Holds the partition LOCK for one scope.
class LockGuard {
 public:
  LockGuard(const File& file, const std::string& path) : fd_(file.fd()) { lock_exclusive(fd_, path); }
  ~LockGuard() { unlock(fd_); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  int fd_;
};

}  // namespace

PartitionLog::PartitionLog(std::string directory, LogOptions options)
    : directory_(std::move(directory)), options_(clamped(options)),
      lock_path_(directory_ + "/" + std::string(lock_file_name)) {
  lock_file_ = open_file(lock_path_, O_RDWR | O_CREAT);
}

void PartitionLog::check_not_deleted() {
  // delete_topic renames the topic away and unlinks its files; a writer that still has
  // the old LOCK open must not append to the deleted copy (FORMAT.md section 1).
  struct stat opened {};
  struct stat named {};
  if (::fstat(lock_file_.fd(), &opened) != 0) throw_io("stat " + lock_path_, errno);
  if (opened.st_nlink == 0 || ::stat(lock_path_.c_str(), &named) != 0 || named.st_ino != opened.st_ino) {
    throw Error(ErrorCode::not_found, fmt::format("{} was deleted", directory_));
  }
}

void PartitionLog::open_active(std::int64_t base, bool create) {
  const int flags = O_WRONLY | O_APPEND | O_CREAT;
  auto log = std::make_shared<File>(open_file(segment_path(directory_, base, log_extension),
                                              O_RDWR | (create ? O_CREAT : 0)));
  active_index_ = open_file(segment_path(directory_, base, index_extension), flags);
  active_time_index_ = open_file(segment_path(directory_, base, time_index_extension), flags);
  active_log_ = std::move(log);
  active_base_ = base;
  writeback_from_ = 0;
}

void PartitionLog::recover() {
  RecoveredPartition recovered = recover_partition(directory_, options_.repair);
  open_active(recovered.bases.back(), false);
  active_bytes_ = recovered.active_bytes;
  end_offset_ = recovered.end_offset;
  builder_ = recovered.builder;
  recovered_ = true;
}

void PartitionLog::catch_up() {
  if (!recovered_) return recover();
  for (;;) {
    const std::string path = segment_path(directory_, active_base_, log_extension);
    const std::uint64_t size = file_size(active_log_->fd(), path);
    if (size < active_bytes_) return recover();  // someone repaired or replaced the log
    if (size > active_bytes_) {
      // Replaying their batches keeps our index state in step; their writers wrote the
      // entries themselves, so the scan's entries are not written again.
      IndexBuilder replay = builder_;
      SegmentScan scan = scan_segment(active_log_->fd(), path, active_base_, SeekPoint{active_bytes_, end_offset_},
                                      &replay);
      builder_ = replay;
      active_bytes_ = scan.valid_bytes;
      end_offset_ = scan.end_offset;
      if (scan.damage != Damage::none) {
        if (!is_tail_damage(scan.damage)) return recover();  // judged (and reported) in full
        // We hold the LOCK, so no writer is mid-write: these bytes were left by one that died.
        core::log(LogLevel::warning, "embedded: {} in {} at byte {} (offset {}): truncated, {} bytes dropped",
                  damage_name(scan.damage), path, scan.valid_bytes, scan.end_offset,
                  scan.file_size - scan.valid_bytes);
        if (::ftruncate(active_log_->fd(), static_cast<off_t>(active_bytes_)) != 0) {
          throw_io("truncate " + path, errno);
        }
      }
    }
    // Another writer may have rolled: its new segment is named by our end offset.
    if (active_bytes_ < options_.segment_bytes || end_offset_ == active_base_) return;
    if (::access(segment_path(directory_, end_offset_, log_extension).c_str(), F_OK) != 0) return;
    open_active(end_offset_, false);
    active_bytes_ = 0;
    builder_ = IndexBuilder{};
  }
}

void PartitionLog::roll_if_full() {
  if (active_bytes_ < options_.segment_bytes) return;
  // The old segment's last writes must be durable before the ones in the new segment
  // are: sync_through() only syncs the active file.
  if (options_.fsync != FsyncPolicy::never && ::fdatasync(active_log_->fd()) != 0) {
    throw_io("fdatasync " + segment_path(directory_, active_base_, log_extension), errno);
  }
  open_active(end_offset_, true);
  active_bytes_ = 0;
  builder_ = IndexBuilder{};
  if (options_.fsync == FsyncPolicy::always) sync_directory(directory_);
}

void PartitionLog::start_writeback() {
  if (options_.fsync == FsyncPolicy::always) return;  // every append is synced anyway
  if (active_bytes_ - writeback_from_ < writeback_bytes) return;
  // Starts the disk writing what we appended (like RocksDB's bytes_per_sync) without
  // waiting for it, and makes nothing durable: `never` and `interval` keep their
  // meaning. Without it the kernel held the dirty pages until its thresholds (GiBs on
  // this machine), so a burst's bytes reached the disk only at the next fdatasync or
  // much later, after the writer had finished; with it, writing overlaps producing
  // (bench/RESULTS.md: `never` to disk 72-80% of dd without, 82-93% with).
  // Failure is harmless here (the data stays dirty in the page cache): not checked.
  static_cast<void>(::sync_file_range(active_log_->fd(), static_cast<off_t>(writeback_from_),
                                      static_cast<off_t>(active_bytes_ - writeback_from_), SYNC_FILE_RANGE_WRITE));
  writeback_from_ = active_bytes_;
}

AppendOutcome PartitionLog::append(std::span<const RecordInput> records) {
  std::lock_guard lock(mutex_);
  if (!failure_.ok()) return {failure_};
  try {
    LockGuard file_lock(lock_file_, lock_path_);
    check_not_deleted();
    catch_up();
    roll_if_full();

    std::string& bytes = encode_buffer_;
    bytes.clear();
    // Keep the usual size (a send_batch of 1,000 small messages is ~170 KB), not the
    // largest append ever made.
    if (bytes.capacity() > 4 * target_batch_bytes) std::string().swap(bytes);
    IndexBuilder builder = builder_;
    std::vector<IndexEntry> index;
    std::vector<TimeIndexEntry> time_index;
    const std::int64_t base_offset = end_offset_;
    std::int64_t next_offset = end_offset_;
    for (std::size_t first = 0; first < records.size();) {
      // One batch holds records up to target_batch_bytes (at least one record).
      std::size_t last = first + 1;
      std::size_t batch_bytes = batch_header_size + encoded_record_size(records[first]);
      for (; last < records.size(); ++last) {
        const std::size_t size = encoded_record_size(records[last]);
        if (batch_bytes + size > target_batch_bytes) break;
        batch_bytes += size;
      }
      const std::size_t position = bytes.size();
      bytes.reserve(position + batch_bytes);
      encode_batch(bytes, next_offset, records.subspan(first, last - first));
      // The header's max_timestamp, read back rather than re-checking the whole batch
      // (its CRC was just computed by encode_batch).
      const auto max_timestamp = load_le<std::int64_t>(bytes.data() + position + batch_max_timestamp_at);
      builder.add_batch(active_bytes_ + position, static_cast<std::uint32_t>(next_offset - active_base_),
                        max_timestamp, index, time_index);
      next_offset += static_cast<std::int64_t>(last - first);
      first = last;
    }
    const std::string path = segment_path(directory_, active_base_, log_extension);
    if (const int error = write_all_at(active_log_->fd(), bytes, static_cast<off_t>(active_bytes_)); error != 0) {
      // Take back whatever part of the batch reached the file: it was never acknowledged.
      if (::ftruncate(active_log_->fd(), static_cast<off_t>(active_bytes_)) != 0) {
        core::log(LogLevel::error, "embedded: cannot truncate {} after a failed append", path);
      }
      return {io_status(fmt::format("append {} messages to {}", records.size(), path), error)};
    }
    std::string index_bytes;
    std::string time_index_bytes;
    for (const auto& entry : index) encode_index_entry(index_bytes, entry);
    for (const auto& entry : time_index) encode_time_index_entry(time_index_bytes, entry);
    // Index entries are derived data (rebuilt on recovery): a failure here is not the
    // append's failure. O_APPEND puts them after entries other writers added.
    if ((!index_bytes.empty() && ::write(active_index_.fd(), index_bytes.data(), index_bytes.size()) < 0) ||
        (!time_index_bytes.empty() &&
         ::write(active_time_index_.fd(), time_index_bytes.data(), time_index_bytes.size()) < 0)) {
      core::log(LogLevel::warning, "embedded: index write for {} failed; it is rebuilt on recovery", path);
    }
    builder_ = builder;
    active_bytes_ += bytes.size();
    start_writeback();
    end_offset_ = next_offset;
    return {Status{}, base_offset, ++written_sequence_};
  } catch (const std::exception& error) {
    return {status_of(error)};
  }
}

Status PartitionLog::sync_through(std::uint64_t sequence) {
  std::unique_lock lock(sync_mutex_);
  while (synced_sequence_ < sequence) {
    if (sync_running_) {
      synced_.wait(lock);
      continue;
    }
    sync_running_ = true;
    lock.unlock();
    std::shared_ptr<File> file;
    std::uint64_t target = 0;
    Status status;
    {
      std::lock_guard state(mutex_);
      file = active_log_;
      target = written_sequence_;  // every write up to here has returned from pwrite
      status = failure_;
    }
    if (status.ok() && file && ::fdatasync(file->fd()) != 0) {
      status = io_status("fdatasync " + directory_, errno);
      std::lock_guard state(mutex_);
      failure_ = status;
    }
    fsync_count_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    sync_running_ = false;
    synced_.notify_all();
    if (!status.ok()) return status;
    synced_sequence_ = std::max(synced_sequence_, target);
  }
  return Status{};
}

Status PartitionLog::sync_written() {
  std::uint64_t sequence = 0;
  {
    std::lock_guard lock(mutex_);
    sequence = written_sequence_;
  }
  return sync_through(sequence);
}

std::int64_t PartitionLog::end_offset() {
  std::lock_guard lock(mutex_);
  LockGuard file_lock(lock_file_, lock_path_);
  check_not_deleted();
  catch_up();
  return end_offset_;
}

std::size_t PartitionLog::apply_retention(TimePoint now) {
  if (options_.retention.count() <= 0 && options_.retention_bytes == 0) return 0;
  std::lock_guard lock(mutex_);
  LockGuard file_lock(lock_file_, lock_path_);
  check_not_deleted();
  catch_up();
  auto bases = list_segments(directory_, false);
  struct Segment {
    std::int64_t base;
    std::uint64_t bytes;
    TimePoint modified;
  };
  std::vector<Segment> segments;
  std::uint64_t total = 0;
  for (auto base : bases) {
    struct stat status {};
    if (::stat(segment_path(directory_, base, log_extension).c_str(), &status) != 0) continue;
    const auto modified = TimePoint(std::chrono::duration_cast<TimePoint::duration>(
        std::chrono::seconds(status.st_mtim.tv_sec) + std::chrono::nanoseconds(status.st_mtim.tv_nsec)));
    segments.push_back({base, static_cast<std::uint64_t>(status.st_size), modified});
    total += static_cast<std::uint64_t>(status.st_size);
  }
  std::size_t deleted = 0;
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {  // never the last (active) one
    const bool too_old = options_.retention.count() > 0 && segments[i].modified < now - options_.retention;
    const bool too_big = options_.retention_bytes > 0 && total > options_.retention_bytes;
    if (!too_old && !too_big) break;  // oldest first: keep everything from here on
    // The .log goes first: index files without it are orphans that recovery removes.
    for (auto extension : {log_extension, index_extension, time_index_extension}) {
      ::unlink(segment_path(directory_, segments[i].base, extension).c_str());
    }
    total -= segments[i].bytes;
    ++deleted;
  }
  return deleted;
}

}  // namespace mq::engines::embedded
