// Constants and the binary codecs of the embedded format: the record batch and indexes
// (docs/FORMAT.md sections 3 and 4), group offset files (5) and the delay journal (6).
// The fuzz targets (tests/fuzz) feed these decoders arbitrary bytes.
// Every constant that reaches the disk is persistent format: never change it; add a new
// version instead (FORMAT.md section 9). Functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mq/message.hpp"

namespace mq::engines::embedded {

// FORMAT.md sections 2 and 9. Persistent format: never change. This build reads
// versions 1 (no priority lanes) and 2 (lanes may exist); it writes 1 for a new tree
// and moves it to 2 before the first lane is created.
inline constexpr std::string_view format_marker_prefix = "mq-embedded ";
inline constexpr int format_version = 2;

// FORMAT.md section 3. Persistent format: never change.
inline constexpr char batch_magic[4] = {'M', 'Q', 'L', 'B'};
inline constexpr std::size_t batch_prefix_size = 12;   // magic, crc, length
inline constexpr std::size_t batch_header_size = 48;
inline constexpr std::size_t batch_max_timestamp_at = 40;
inline constexpr std::uint32_t min_batch_length = batch_header_size - batch_prefix_size;
inline constexpr std::uint32_t max_batch_length = 256u << 20;
inline constexpr std::uint8_t batch_version = 1;
inline constexpr std::uint8_t batch_flag_gap = 0x01;        // persistent format: never change
inline constexpr std::uint8_t record_has_key = 0x01;        // persistent format: never change
inline constexpr std::uint8_t record_has_delay = 0x02;      // persistent format: never change
inline constexpr std::uint8_t record_has_sequence = 0x04;   // persistent format: never change
inline constexpr std::size_t record_fixed_size = 30;  // length .. id_length, FORMAT.md table

// FORMAT.md section 4. Persistent format: never change.
inline constexpr std::size_t index_entry_size = 8;
inline constexpr std::size_t time_index_entry_size = 12;
inline constexpr std::uint64_t index_interval_bytes = 4096;

// Largest batch the writer builds from many records (one record may exceed it alone).
inline constexpr std::size_t target_batch_bytes = 1u << 20;

std::int64_t to_nanoseconds(TimePoint time) noexcept;
TimePoint from_nanoseconds(std::int64_t nanoseconds) noexcept;

// Where a delayed message goes once due (delay store records only, FORMAT.md section 6).
struct DelayTarget {
  TimePoint due{};
  std::string topic;
  int partition = 0;
};

// One record to encode. `message.topic`, `partition` and `offset` are not stored.
struct RecordInput {
  const Message* message = nullptr;
  const DelayTarget* delay = nullptr;        // delay log only
  std::optional<std::uint64_t> delay_sequence;  // records moved out of the delay log
};

struct DecodedRecord {
  std::int64_t offset = 0;
  Message message;  // topic and partition left for the caller to fill
  std::optional<DelayTarget> delay;
  std::optional<std::uint64_t> delay_sequence;
};

struct BatchHeader {
  std::uint32_t crc = 0;
  std::uint32_t length = 0;
  std::uint8_t version = 0;
  std::uint8_t flags = 0;
  std::int64_t base_offset = 0;
  std::uint32_t count = 0;
  std::int64_t first_timestamp = 0;
  std::int64_t max_timestamp = 0;

  std::uint64_t total_size() const { return batch_prefix_size + length; }
  std::int64_t end_offset() const { return base_offset + count; }
  bool is_gap() const { return (flags & batch_flag_gap) != 0; }
};

// What the bytes at a batch position are (FORMAT.md section 8 maps them to reasons).
enum class BatchCheck {
  ok,
  incomplete,           // fewer bytes than the header or the length field promises
  zero_prefix,          // magic, crc and length all zero
  bad_magic,
  bad_length,
  bad_checksum,
  unsupported_version,  // CRC-valid, but a version this build does not know
};

// Encodes records [0, n) as one batch with `base_offset`, appending the bytes to `out`.
void encode_batch(std::string& out, std::int64_t base_offset, std::span<const RecordInput> records);
// A gap batch: `count` offsets from `base_offset` lost by a repair, no records.
void encode_gap_batch(std::string& out, std::int64_t base_offset, std::uint32_t count);
// Bytes encode_batch adds for this record.
std::size_t encoded_record_size(const RecordInput& record);

// Checks the batch at the start of `bytes` (which may hold less than the whole batch).
// Fills `header` from whatever is present.
BatchCheck check_batch(std::string_view bytes, BatchHeader& header) noexcept;
// Decodes the records of a batch that checked ok. Throws Error(corruption) if the CRC-valid
// body is inconsistent (which only a bug or a foreign writer produces); `where` names it.
void decode_records(std::string_view batch, const BatchHeader& header, std::vector<DecodedRecord>& out,
                    std::string_view where);

// FORMAT.md section 4.
struct IndexEntry {
  std::uint32_t relative_offset = 0;
  std::uint32_t position = 0;
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};
struct TimeIndexEntry {
  std::int64_t timestamp = 0;
  std::uint32_t relative_offset = 0;
  friend bool operator==(const TimeIndexEntry&, const TimeIndexEntry&) = default;
};
void encode_index_entry(std::string& out, const IndexEntry& entry);
void encode_time_index_entry(std::string& out, const TimeIndexEntry& entry);
// Whole entries only: a trailing partial entry (a torn index write) is ignored.
std::vector<IndexEntry> decode_index(std::string_view bytes);
std::vector<TimeIndexEntry> decode_time_index(std::string_view bytes);

// Decides the index entries of each batch as it is appended (FORMAT.md section 4). The
// writer and the index rebuild use the same rules, so a rebuilt index equals the one
// written. Not thread-safe: owned by one partition writer.
class IndexBuilder {
 public:
  // A batch of the segment (in order). Adds entries due for it to the two vectors.
  void add_batch(std::uint64_t position, std::uint32_t relative_offset, std::int64_t max_timestamp,
                 std::vector<IndexEntry>& index, std::vector<TimeIndexEntry>& time_index);

 private:
  std::uint64_t last_index_position_ = 0;  // the first batch, at 0, is implicit
  std::optional<std::uint64_t> last_time_position_;
  std::optional<std::int64_t> max_timestamp_;
};

// FORMAT.md section 5: a group's committed-offset file. Version 2 (written): a header and
// two slots rewritten in place, the valid slot with the higher sequence wins. Version 1
// (read, then migrated by the owner): 20 bytes replaced as a whole.
// Persistent format: never change.
inline constexpr std::size_t offset_file_size = 64;     // version 2
inline constexpr std::size_t offset_file_v1_size = 20;
inline constexpr std::size_t offset_slot_size = 24;
struct OffsetFileContents {
  std::int64_t offset = 0;
  std::uint64_t sequence = 0;  // of the winning slot (version 1: 0)
  int version = 2;
};
// A new version 2 file whose only valid slot holds `offset` with `sequence`.
std::string encode_offset_file(std::int64_t offset, std::uint64_t sequence = 1);
// Version 1 (tests and seeds only: the migration's input).
std::string encode_offset_file_v1(std::int64_t offset);
// The slot bytes for `sequence` (>= 1) and where they go: byte 16 + 24 * (sequence % 2).
std::string encode_offset_slot(std::uint64_t sequence, std::int64_t offset);
inline constexpr std::size_t offset_slot_position(std::uint64_t sequence) {
  return 16 + offset_slot_size * static_cast<std::size_t>(sequence % 2);
}
// Throws Error(corruption) naming `path` when the bytes are not a valid offset file of a
// known version (an unknown version says unsupported_version).
OffsetFileContents decode_offset_file(std::string_view bytes, std::string_view path);

// FORMAT.md section 6: the delay mover's journal. Persistent format: never change.
inline constexpr std::uint8_t journal_intent = 1;
inline constexpr std::uint8_t journal_done = 2;
inline constexpr std::uint8_t journal_floor = 3;
inline constexpr std::size_t journal_entry_size = 24;
struct JournalEntry {
  std::uint8_t kind = 0;
  std::int64_t sequence = 0;
  std::int64_t value = 0;
};
void encode_journal_entry(std::string& out, const JournalEntry& entry);
// Whole entries; a torn last entry (bad CRC, nothing after it) is dropped, a bad entry
// followed by more is Error(corruption) naming `path` and the byte.
std::vector<JournalEntry> decode_journal(std::string_view bytes, std::string_view path);

}  // namespace mq::engines::embedded
