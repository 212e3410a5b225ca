// fuzz.embedded.stores: arbitrary bytes as the small binary files a process reads on
// open: .index and .timeindex (docs/FORMAT.md section 4, with seek_point), a group's
// offset file (section 5, versions 1 and 2) and the delay journal (section 6).
//
// Input: byte 0 chooses the decoder (modulo 4), the rest is the file.
// Properties beyond "no crash, no sanitizer report": only Error(corruption) is thrown;
// what decodes re-encodes to the same values; seek_point stays inside the index.
#include <cstdlib>
#include <limits>
#include <string>

#include "engines/embedded/format.hpp"
#include "mq/error.hpp"
#include "engines/embedded/segment.hpp"

namespace {
using namespace mq::engines::embedded;

void require(bool condition) {
  if (!condition) std::abort();
}

void index_file(std::string_view bytes) {
  const auto entries = decode_index(bytes);
  std::string copy;
  for (const auto& entry : entries) encode_index_entry(copy, entry);
  require(copy == bytes.substr(0, bytes.size() - bytes.size() % index_entry_size));
  // seek_point must return an entry or the segment start, whatever the entries hold.
  for (const std::int64_t offset : {std::int64_t{0}, std::int64_t{1}, std::int64_t{4096}, std::int64_t{1} << 40}) {
    const auto point = seek_point(entries, 1000, 1000 + offset);
    require(point.offset >= 1000 && point.offset <= 1000 + offset);
  }
}

void time_index_file(std::string_view bytes) {
  const auto entries = decode_time_index(bytes);
  std::string copy;
  for (const auto& entry : entries) encode_time_index_entry(copy, entry);
  require(copy == bytes.substr(0, bytes.size() - bytes.size() % time_index_entry_size));
}

void offset_file(std::string_view bytes) {
  // Reserved bytes and the losing slot need not be anything in particular for the file
  // to decode, so compare values: the winning slot re-encodes to the same offset and
  // sequence (version 1: the offset, re-encoded as version 1 and as its migration).
  const auto contents = decode_offset_file(bytes, "offsets/t/0");
  require(contents.version == 1 || contents.version == 2);
  if (contents.version == 1) {
    require(contents.sequence == 0);
    require(decode_offset_file(encode_offset_file_v1(contents.offset), "copy").offset == contents.offset);
    require(decode_offset_file(encode_offset_file(contents.offset), "migrated").offset == contents.offset);
    return;
  }
  require(contents.sequence != 0);
  const auto copy = decode_offset_file(encode_offset_file(contents.offset, contents.sequence), "copy");
  require(copy.offset == contents.offset && copy.sequence == contents.sequence);
  // The next in-place write wins over whatever the other slot holds (a sequence at its
  // maximum has no next: 2^64 commits).
  if (contents.sequence == std::numeric_limits<std::uint64_t>::max()) return;
  std::string next(bytes);
  const std::int64_t other = contents.offset ^ 1;
  next.replace(offset_slot_position(contents.sequence + 1), offset_slot_size,
               encode_offset_slot(contents.sequence + 1, other));
  const auto after = decode_offset_file(next, "next");
  require(after.sequence == contents.sequence + 1 && after.offset == other);
}

void journal_file(std::string_view bytes) {
  const auto entries = decode_journal(bytes, "delay/JOURNAL");
  std::string copy;
  for (const auto& entry : entries) encode_journal_entry(copy, entry);
  require(copy.size() <= bytes.size());
  // Entries whose reserved bytes are not zero decode but re-encode differently; the
  // kind, sequence and value must survive.
  const auto again = decode_journal(copy, "copy");
  require(again.size() == entries.size());
  for (std::size_t i = 0; i < again.size(); ++i) {
    require(again[i].kind == entries[i].kind && again[i].sequence == entries[i].sequence &&
            again[i].value == entries[i].value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0: index_file(bytes); break;
      case 1: time_index_file(bytes); break;
      case 2: offset_file(bytes); break;
      case 3: journal_file(bytes); break;
    }
  } catch (const mq::Error& error) {
    require(error.code() == mq::ErrorCode::corruption);
  }
  return 0;
}
