// Batch codec: the byte layout of docs/FORMAT.md section 3, little-endian throughout.
#include "engines/embedded/format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "engines/embedded/crc32c.hpp"
#include "engines/embedded/endian.hpp"
#include "mq/error.hpp"

namespace mq::engines::embedded {
namespace {

template <typename Integer>
void put(std::string& out, Integer value) {
  append_le(out, value);
}

template <typename Integer>
Integer get(const char* data) noexcept {
  return load_le<Integer>(data);
}

template <typename Integer>
void put_at(std::string& out, std::size_t position, Integer value) {
  store_le(out.data() + position, value);
}

constexpr std::uint8_t known_attributes = record_has_key | record_has_delay | record_has_sequence;

// Reads fields of one record; any overrun is the corruption named by `where`.
class RecordParser {
 public:
  RecordParser(std::string_view bytes, std::string_view where) : bytes_(bytes), where_(where) {}
  template <typename Integer>
  Integer number() {
    need(sizeof(Integer));
    const auto value = get<Integer>(bytes_.data() + position_);
    position_ += sizeof(Integer);
    return value;
  }
  std::string text(std::size_t size) {
    need(size);
    std::string value(bytes_.substr(position_, size));
    position_ += size;
    return value;
  }
  std::size_t position() const { return position_; }
  [[noreturn]] void fail(std::string_view what) const {
    throw Error(ErrorCode::corruption, fmt::format("{}: {}", where_, what));
  }

 private:
  void need(std::size_t size) const {
    if (bytes_.size() - position_ < size) fail("record overruns its batch");
  }
  std::string_view bytes_;
  std::string_view where_;
  std::size_t position_ = 0;
};

void encode_record(std::string& out, std::uint32_t offset_delta, const RecordInput& record) {
  const Message& message = *record.message;
  const std::size_t start = out.size();
  put<std::uint32_t>(out, 0);  // length, patched below
  put<std::uint32_t>(out, offset_delta);
  put<std::int64_t>(out, to_nanoseconds(message.timestamp));
  std::uint8_t attributes = 0;
  if (message.key) attributes |= record_has_key;
  if (record.delay) attributes |= record_has_delay;
  if (record.delay_sequence) attributes |= record_has_sequence;
  put<std::uint8_t>(out, attributes);
  put<std::uint8_t>(out, static_cast<std::uint8_t>(std::clamp(message.priority, 0, 9)));
  put<std::uint16_t>(out, static_cast<std::uint16_t>(message.headers.size()));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(message.key ? message.key->size() : 0));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(message.value.size()));
  put<std::uint16_t>(out, static_cast<std::uint16_t>(message.id.size()));
  if (message.key) out += *message.key;
  out += message.value;
  out += message.id;
  if (record.delay) {
    put<std::int64_t>(out, to_nanoseconds(record.delay->due));
    put<std::int32_t>(out, record.delay->partition);
    put<std::uint16_t>(out, static_cast<std::uint16_t>(record.delay->topic.size()));
    out += record.delay->topic;
  }
  if (record.delay_sequence) put<std::uint64_t>(out, *record.delay_sequence);
  for (const auto& [name, value] : message.headers) {
    put<std::uint16_t>(out, static_cast<std::uint16_t>(name.size()));
    put<std::uint32_t>(out, static_cast<std::uint32_t>(value.size()));
    out += name;
    out += value;
  }
  put_at<std::uint32_t>(out, start, static_cast<std::uint32_t>(out.size() - start - 4));
}

void encode_header(std::string& out, std::uint8_t flags, std::int64_t base_offset, std::uint32_t count,
                   std::int64_t first_timestamp, std::int64_t max_timestamp) {
  out.append(batch_magic, sizeof batch_magic);
  put<std::uint32_t>(out, 0);  // crc, patched by seal_batch
  put<std::uint32_t>(out, 0);  // length, patched by seal_batch
  put<std::uint8_t>(out, batch_version);
  put<std::uint8_t>(out, flags);
  put<std::uint16_t>(out, 0);
  put<std::int64_t>(out, base_offset);
  put<std::uint32_t>(out, count);
  put<std::uint32_t>(out, 0);
  put<std::int64_t>(out, first_timestamp);
  put<std::int64_t>(out, max_timestamp);
}

// Fills length and crc of the batch starting at `start`, now that its bytes are complete.
void seal_batch(std::string& out, std::size_t start) {
  put_at<std::uint32_t>(out, start + 8, static_cast<std::uint32_t>(out.size() - start - batch_prefix_size));
  put_at<std::uint32_t>(out, start + 4, crc32c(out.data() + start + 8, out.size() - start - 8));
}

}  // namespace

std::int64_t to_nanoseconds(TimePoint time) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

TimePoint from_nanoseconds(std::int64_t nanoseconds) noexcept {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(nanoseconds)));
}

std::size_t encoded_record_size(const RecordInput& record) {
  const Message& message = *record.message;
  std::size_t size = record_fixed_size + (message.key ? message.key->size() : 0) + message.value.size() +
                     message.id.size();
  if (record.delay) size += 14 + record.delay->topic.size();
  if (record.delay_sequence) size += 8;
  for (const auto& [name, value] : message.headers) size += 6 + name.size() + value.size();
  return size;
}

void encode_batch(std::string& out, std::int64_t base_offset, std::span<const RecordInput> records) {
  std::int64_t first = records.empty() ? 0 : to_nanoseconds(records.front().message->timestamp);
  std::int64_t max = first;
  for (const auto& record : records) max = std::max(max, to_nanoseconds(record.message->timestamp));
  const std::size_t start = out.size();
  encode_header(out, 0, base_offset, static_cast<std::uint32_t>(records.size()), first, max);
  for (std::size_t i = 0; i < records.size(); ++i) encode_record(out, static_cast<std::uint32_t>(i), records[i]);
  seal_batch(out, start);
}

void encode_gap_batch(std::string& out, std::int64_t base_offset, std::uint32_t count) {
  const std::size_t start = out.size();
  encode_header(out, batch_flag_gap, base_offset, count, 0, 0);
  seal_batch(out, start);
}

BatchCheck check_batch(std::string_view bytes, BatchHeader& header) noexcept {
  if (bytes.size() < batch_prefix_size) {
    return bytes.find_first_not_of('\0') == std::string_view::npos && !bytes.empty() ? BatchCheck::zero_prefix
                                                                                     : BatchCheck::incomplete;
  }
  if (std::memcmp(bytes.data(), batch_magic, sizeof batch_magic) != 0) {
    return bytes.substr(0, batch_prefix_size).find_first_not_of('\0') == std::string_view::npos
               ? BatchCheck::zero_prefix
               : BatchCheck::bad_magic;
  }
  header.crc = get<std::uint32_t>(bytes.data() + 4);
  header.length = get<std::uint32_t>(bytes.data() + 8);
  if (header.length < min_batch_length || header.length > max_batch_length) return BatchCheck::bad_length;
  if (bytes.size() < header.total_size()) return BatchCheck::incomplete;
  const char* data = bytes.data();
  header.version = static_cast<std::uint8_t>(data[12]);
  header.flags = static_cast<std::uint8_t>(data[13]);
  header.base_offset = get<std::int64_t>(data + 16);
  header.count = get<std::uint32_t>(data + 24);
  header.first_timestamp = get<std::int64_t>(data + 32);
  header.max_timestamp = get<std::int64_t>(data + batch_max_timestamp_at);
  if (crc32c(data + 8, header.total_size() - 8) != header.crc) return BatchCheck::bad_checksum;
  if (header.version != batch_version) return BatchCheck::unsupported_version;
  return BatchCheck::ok;
}

void decode_records(std::string_view batch, const BatchHeader& header, std::vector<DecodedRecord>& out,
                    std::string_view where) {
  if (header.is_gap()) return;
  RecordParser parser(batch.substr(batch_header_size, header.total_size() - batch_header_size), where);
  // `count` is only CRC-checked, not trusted: reserve no more than the bytes can hold.
  // Only into an empty vector, so a caller collecting many batches keeps geometric growth.
  if (out.empty()) {
    out.reserve(std::min<std::size_t>(header.count, (header.total_size() - batch_header_size) / record_fixed_size));
  }
  for (std::uint32_t i = 0; i < header.count; ++i) {
    const auto length = parser.number<std::uint32_t>();
    const std::size_t end = parser.position() + length;
    // Decoded in place: no temporary record moved into `out`. A record that fails to
    // parse is taken back out before the error propagates.
    DecodedRecord& record = out.emplace_back();
    struct TakeBack {
      std::vector<DecodedRecord>& out;
      bool done = false;
      ~TakeBack() {
        if (!done) out.pop_back();
      }
    } take_back{out};
    // Version 1 numbers records 0, 1, 2, ...: anything else would hand out offsets
    // outside [base_offset, base_offset + count).
    if (parser.number<std::uint32_t>() != i) parser.fail("record offset_delta out of sequence");
    record.offset = header.base_offset + i;
    Message& message = record.message;
    message.timestamp = from_nanoseconds(parser.number<std::int64_t>());
    const auto attributes = parser.number<std::uint8_t>();
    if ((attributes & ~known_attributes) != 0) parser.fail("record has unknown attribute bits");
    message.priority = parser.number<std::uint8_t>();
    if (message.priority > 9) parser.fail("record priority above 9");
    const auto header_count = parser.number<std::uint16_t>();
    const auto key_length = parser.number<std::uint32_t>();
    if (key_length != 0 && !(attributes & record_has_key)) parser.fail("record key_length without a key");
    const auto value_length = parser.number<std::uint32_t>();
    const auto id_length = parser.number<std::uint16_t>();
    if (attributes & record_has_key) message.key = parser.text(key_length);
    message.value = parser.text(value_length);
    message.id = parser.text(id_length);
    if (attributes & record_has_delay) {
      DelayTarget delay;
      delay.due = from_nanoseconds(parser.number<std::int64_t>());
      delay.partition = parser.number<std::int32_t>();
      delay.topic = parser.text(parser.number<std::uint16_t>());
      record.delay = std::move(delay);
    }
    if (attributes & record_has_sequence) record.delay_sequence = parser.number<std::uint64_t>();
    for (std::uint16_t h = 0; h < header_count; ++h) {
      const auto name_length = parser.number<std::uint16_t>();
      const auto header_value_length = parser.number<std::uint32_t>();
      std::string name = parser.text(name_length);
      message.headers.add(std::move(name), parser.text(header_value_length));
    }
    if (parser.position() != end) parser.fail("record length does not match its fields");
    message.offset = record.offset;
    take_back.done = true;
  }
  if (parser.position() != header.total_size() - batch_header_size) parser.fail("bytes after the last record");
}

void encode_index_entry(std::string& out, const IndexEntry& entry) {
  put<std::uint32_t>(out, entry.relative_offset);
  put<std::uint32_t>(out, entry.position);
}

void encode_time_index_entry(std::string& out, const TimeIndexEntry& entry) {
  put<std::int64_t>(out, entry.timestamp);
  put<std::uint32_t>(out, entry.relative_offset);
}

std::vector<IndexEntry> decode_index(std::string_view bytes) {
  std::vector<IndexEntry> entries(bytes.size() / index_entry_size);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const char* data = bytes.data() + i * index_entry_size;
    entries[i] = IndexEntry{get<std::uint32_t>(data), get<std::uint32_t>(data + 4)};
  }
  return entries;
}

std::vector<TimeIndexEntry> decode_time_index(std::string_view bytes) {
  std::vector<TimeIndexEntry> entries(bytes.size() / time_index_entry_size);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const char* data = bytes.data() + i * time_index_entry_size;
    entries[i] = TimeIndexEntry{get<std::int64_t>(data), get<std::uint32_t>(data + 8)};
  }
  return entries;
}

void IndexBuilder::add_batch(std::uint64_t position, std::uint32_t relative_offset, std::int64_t max_timestamp,
                             std::vector<IndexEntry>& index, std::vector<TimeIndexEntry>& time_index) {
  if (position >= last_index_position_ + index_interval_bytes) {
    index.push_back({relative_offset, static_cast<std::uint32_t>(position)});
    last_index_position_ = position;
  }
  const bool new_maximum = !max_timestamp_ || max_timestamp > *max_timestamp_;
  if (new_maximum && (!last_time_position_ || position >= *last_time_position_ + index_interval_bytes)) {
    time_index.push_back({max_timestamp, relative_offset});
    last_time_position_ = position;
  }
  if (new_maximum) max_timestamp_ = max_timestamp;
}

namespace {
// FORMAT.md section 5. Persistent format: never change.
constexpr char offset_magic[4] = {'M', 'Q', 'O', 'F'};
constexpr std::uint8_t offset_version_1 = 1;
constexpr std::uint8_t offset_version_2 = 2;
constexpr std::size_t offset_header_size = 16;

std::uint32_t journal_entry_crc(std::string_view entry) {
  return crc32c_extend(crc32c(entry.data(), 4), entry.data() + 8, 16);
}

[[noreturn]] void bad_offset_file(std::string_view path, std::string_view why) {
  throw Error(ErrorCode::corruption, fmt::format("bad offset file {}: {} (docs/FORMAT.md section 5)", path, why));
}

// A slot is valid when its CRC matches, its sequence is not 0 and it sits where its
// sequence puts it (so a slot copied to the wrong place is not believed).
std::optional<OffsetFileContents> decode_offset_slot(std::string_view file, std::size_t index) {
  const char* slot = file.data() + offset_header_size + index * offset_slot_size;
  const auto sequence = get<std::uint64_t>(slot);
  if (sequence == 0 || sequence % 2 != index || crc32c(slot, 16) != get<std::uint32_t>(slot + 16)) {
    return std::nullopt;
  }
  return OffsetFileContents{get<std::int64_t>(slot + 8), sequence, offset_version_2};
}
}  // namespace

std::string encode_offset_file(std::int64_t offset, std::uint64_t sequence) {
  std::string bytes(offset_file_size, '\0');
  std::copy(std::begin(offset_magic), std::end(offset_magic), bytes.begin());
  bytes[4] = static_cast<char>(offset_version_2);
  store_le(bytes.data() + 8, crc32c(bytes.data(), 8));
  bytes.replace(offset_slot_position(sequence), offset_slot_size, encode_offset_slot(sequence, offset));
  return bytes;
}

std::string encode_offset_file_v1(std::int64_t offset) {
  std::string bytes(offset_file_v1_size, '\0');
  std::copy(std::begin(offset_magic), std::end(offset_magic), bytes.begin());
  bytes[4] = static_cast<char>(offset_version_1);
  store_le(bytes.data() + 8, offset);
  store_le(bytes.data() + 16, crc32c(bytes.data(), 16));
  return bytes;
}

std::string encode_offset_slot(std::uint64_t sequence, std::int64_t offset) {
  std::string slot(offset_slot_size, '\0');
  store_le(slot.data(), sequence);
  store_le(slot.data() + 8, offset);
  store_le(slot.data() + 16, crc32c(slot.data(), 16));
  return slot;
}

OffsetFileContents decode_offset_file(std::string_view bytes, std::string_view path) {
  // magic and version keep their places in every version: read them first.
  if (bytes.size() < 8 || !bytes.starts_with(std::string_view(offset_magic, sizeof offset_magic))) {
    bad_offset_file(path, "bad magic");
  }
  const auto version = static_cast<std::uint8_t>(bytes[4]);
  if (version == offset_version_1) {
    if (bytes.size() != offset_file_v1_size || crc32c(bytes.data(), 16) != get<std::uint32_t>(bytes.data() + 16)) {
      bad_offset_file(path, "bad version 1 file");
    }
    return OffsetFileContents{get<std::int64_t>(bytes.data() + 8), 0, offset_version_1};
  }
  if (version != offset_version_2) {
    throw Error(ErrorCode::corruption,
                fmt::format("unsupported_version {} of offset file {} (this build reads 1 and 2)", version, path));
  }
  if (bytes.size() != offset_file_size) bad_offset_file(path, fmt::format("size {} is not 64", bytes.size()));
  if (crc32c(bytes.data(), 8) != get<std::uint32_t>(bytes.data() + 8)) bad_offset_file(path, "bad header CRC");
  const auto first = decode_offset_slot(bytes, 0);
  const auto second = decode_offset_slot(bytes, 1);
  if (!first && !second) bad_offset_file(path, "no valid slot");
  if (!first) return *second;
  if (!second) return *first;
  return first->sequence > second->sequence ? *first : *second;
}

void encode_journal_entry(std::string& out, const JournalEntry& entry) {
  std::string bytes(journal_entry_size, '\0');
  bytes[0] = static_cast<char>(entry.kind);
  store_le(bytes.data() + 8, entry.sequence);
  store_le(bytes.data() + 16, entry.value);
  store_le(bytes.data() + 4, journal_entry_crc(bytes));
  out += bytes;
}

std::vector<JournalEntry> decode_journal(std::string_view bytes, std::string_view path) {
  std::vector<JournalEntry> entries;
  for (std::size_t at = 0; at + journal_entry_size <= bytes.size(); at += journal_entry_size) {
    const auto entry = bytes.substr(at, journal_entry_size);
    if (journal_entry_crc(entry) != get<std::uint32_t>(entry.data() + 4)) {
      if (at + 2 * journal_entry_size > bytes.size()) break;  // torn last entry: never completed
      throw Error(ErrorCode::corruption, fmt::format("bad_checksum in {} at byte {}", path, at));
    }
    entries.push_back({static_cast<std::uint8_t>(entry[0]), get<std::int64_t>(entry.data() + 8),
                       get<std::int64_t>(entry.data() + 16)});
  }
  return entries;
}

}  // namespace mq::engines::embedded
