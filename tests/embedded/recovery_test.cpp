// Recovery rules of docs/FORMAT.md section 8: one test per named damage, plus repair,
// the data dir checks and damage a reader meets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "engines/embedded/crc32c.hpp"
#include "engines/embedded/partition_log.hpp"
#include "engines/embedded/partition_reader.hpp"
#include "engines/embedded/segment.hpp"
#include "engines/embedded/topics.hpp"
#include "test_support.hpp"

namespace mq::engines::embedded {
namespace {

using test::append_values;
using test::LogCapture;
using test::read_all;
using test::read_bytes;
using test::TempDir;
using test::write_bytes;

// A partition of three batches of 4 records each (offsets 0..11) in one segment.
struct Damaged {
  TempDir dir;
  std::string segment;
  std::vector<std::uint64_t> batch_starts;  // byte position of each batch, then the end
  Damaged() {
    PartitionLog log(dir.path(), LogOptions{});
    batch_starts.push_back(0);
    for (int i = 0; i < 3; ++i) {
      append_values(log, "b" + std::to_string(i), 4);
      batch_starts.push_back(std::filesystem::file_size(segment_path(dir.path(), 0, log_extension)));
    }
    segment = segment_path(dir.path(), 0, log_extension);
  }
  std::string bytes() const { return read_bytes(segment); }
  void set(const std::string& bytes) const { write_bytes(segment, bytes); }
  // Opens a writer (which recovers) and returns the end offset it continues from.
  std::int64_t reopen(bool repair = false) const {
    LogOptions options;
    options.repair = repair;
    PartitionLog log(dir.path(), options);
    return log.end_offset();
  }
};

void expect_corruption(const Damaged& damaged, const std::string& reason, std::uint64_t position) {
  try {
    damaged.reopen();
    FAIL() << "expected " << reason;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::corruption);
    EXPECT_NE(error.message().find(reason), std::string::npos) << error.message();
    EXPECT_NE(error.message().find(damaged.segment), std::string::npos) << error.message();
    EXPECT_NE(error.message().find("at byte " + std::to_string(position)), std::string::npos) << error.message();
  }
}

TEST(RecoveryTest, TornTailIsTruncatedAndLogged) {
  Damaged damaged;
  const auto bytes = damaged.bytes();
  damaged.set(bytes.substr(0, damaged.batch_starts[2] + 30));  // the third batch half-written
  LogCapture logs;
  EXPECT_EQ(damaged.reopen(), 8);
  EXPECT_TRUE(logs.contains("torn_tail")) << logs.text();
  EXPECT_TRUE(logs.contains("30 bytes dropped")) << logs.text();
  EXPECT_EQ(std::filesystem::file_size(damaged.segment), damaged.batch_starts[2]);
  EXPECT_EQ(read_all(damaged.dir.path()).size(), 8u);
}

TEST(RecoveryTest, TailChecksumMismatchIsTruncated) {
  Damaged damaged;
  auto bytes = damaged.bytes();
  bytes[bytes.size() - 3] ^= 0x40;
  damaged.set(bytes);
  LogCapture logs;
  EXPECT_EQ(damaged.reopen(), 8);
  EXPECT_TRUE(logs.contains("tail_checksum")) << logs.text();
}

TEST(RecoveryTest, ZeroFilledTailIsTruncated) {
  Damaged damaged;
  damaged.set(damaged.bytes() + std::string(4096, '\0'));
  LogCapture logs;
  EXPECT_EQ(damaged.reopen(), 12);
  EXPECT_TRUE(logs.contains("zero_tail")) << logs.text();
  EXPECT_TRUE(logs.contains("4096 bytes dropped")) << logs.text();
}

TEST(RecoveryTest, ChecksumMismatchInTheMiddleIsAnErrorNamingFileAndByte) {
  Damaged damaged;
  auto bytes = damaged.bytes();
  bytes[damaged.batch_starts[1] + 60] ^= 0x01;
  damaged.set(bytes);
  expect_corruption(damaged, "bad_checksum", damaged.batch_starts[1]);
  // A reader stops there with the same verdict, after the good batch before it.
  PartitionReader reader(damaged.dir.path(), 0);
  std::vector<DecodedRecord> records;
  EXPECT_THROW(while (reader.read(100, records) > 0) {}, Error);
  EXPECT_EQ(records.size(), 4u);
}

TEST(RecoveryTest, BadLengthIsAnError) {
  Damaged damaged;
  auto bytes = damaged.bytes();
  bytes[damaged.batch_starts[1] + 8] = 3;  // length 3 < 36
  bytes[damaged.batch_starts[1] + 9] = bytes[damaged.batch_starts[1] + 10] = bytes[damaged.batch_starts[1] + 11] = 0;
  damaged.set(bytes);
  expect_corruption(damaged, "bad_length", damaged.batch_starts[1]);
}

TEST(RecoveryTest, BadMagicIsAnError) {
  Damaged damaged;
  auto bytes = damaged.bytes();
  bytes[damaged.batch_starts[1]] = 'X';
  damaged.set(bytes);
  expect_corruption(damaged, "bad_magic", damaged.batch_starts[1]);
}

TEST(RecoveryTest, UnknownBatchVersionIsAnError) {
  Damaged damaged;
  auto bytes = damaged.bytes();
  const auto start = damaged.batch_starts[1];
  const auto end = damaged.batch_starts[2];
  bytes[start + 12] = 9;  // version 9, with a CRC that matches: a newer writer
  std::string body = bytes.substr(start + 8, end - start - 8);
  const std::uint32_t crc = crc32c(body);
  for (int i = 0; i < 4; ++i) bytes[start + 4 + static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xFF);
  damaged.set(bytes);
  expect_corruption(damaged, "unsupported_version", start);
}

TEST(RecoveryTest, OffsetMismatchIsAnError) {
  Damaged damaged;
  // The second batch copied over the third: offsets 4..7 twice.
  auto bytes = damaged.bytes();
  const auto second = bytes.substr(damaged.batch_starts[1], damaged.batch_starts[2] - damaged.batch_starts[1]);
  damaged.set(bytes.substr(0, damaged.batch_starts[2]) + second);
  expect_corruption(damaged, "offset_mismatch", damaged.batch_starts[2]);
}

TEST(RecoveryTest, MissingSegmentIsAnErrorAndRepairRecordsTheGap) {
  TempDir dir;
  {
    LogOptions options;
    options.segment_bytes = 4096;
    PartitionLog log(dir.path(), options);
    for (int i = 0; i < 60; ++i) append_values(log, "m" + std::to_string(i), 5);
  }
  auto bases = list_segments(dir.path(), false);
  ASSERT_GE(bases.size(), 4u);
  const std::int64_t lost_base = bases[1];
  const std::int64_t lost_end = bases[2];
  std::filesystem::remove(segment_path(dir.path(), lost_base, log_extension));
  try {
    PartitionLog log(dir.path(), LogOptions{});
    log.end_offset();
    FAIL() << "expected missing_segment";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::corruption);
    EXPECT_NE(error.message().find("missing_segment"), std::string::npos) << error.message();
  }
  LogCapture logs;
  LogOptions repair;
  repair.repair = true;
  PartitionLog log(dir.path(), repair);
  EXPECT_EQ(log.end_offset(), 300);
  EXPECT_TRUE(logs.contains("repair: missing_segment")) << logs.text();
  // Offsets stay contiguous across the gap batch; the lost ones are simply absent.
  const auto records = read_all(dir.path());
  EXPECT_EQ(records.size(), static_cast<std::size_t>(300 - (lost_end - lost_base)));
  // Repaired, the partition opens without the option too.
  PartitionLog again(dir.path(), LogOptions{});
  EXPECT_EQ(again.end_offset(), 300);
}

TEST(RecoveryTest, RepairCutsMidLogDamageOfTheLastSegment) {
  Damaged damaged;
  auto bytes = damaged.bytes();
  bytes[damaged.batch_starts[1] + 60] ^= 0x01;
  damaged.set(bytes);
  LogCapture logs;
  EXPECT_EQ(damaged.reopen(/*repair=*/true), 4);
  EXPECT_TRUE(logs.contains("bad_checksum")) << logs.text();
  EXPECT_EQ(damaged.reopen(), 4);
}

TEST(RecoveryTest, BadIndexIsRebuiltFromTheLog) {
  TempDir dir;
  {
    LogOptions options;
    options.segment_bytes = 64 * 1024;
    PartitionLog log(dir.path(), options);
    for (int i = 0; i < 400; ++i) append_values(log, "i" + std::to_string(i), 5);
  }
  const auto bases = list_segments(dir.path(), false);
  ASSERT_GE(bases.size(), 2u);
  const auto index_path = segment_path(dir.path(), bases[0], index_extension);
  const auto good_index = read_bytes(index_path);
  ASSERT_GE(good_index.size(), 16u);
  std::string bad = good_index;
  bad[bad.size() - 4] = 0x7f;  // the last entry's position now points into a batch
  write_bytes(index_path, bad);
  LogCapture logs;
  PartitionLog log(dir.path(), LogOptions{});
  EXPECT_EQ(log.end_offset(), 2000);
  EXPECT_TRUE(logs.contains("bad_index")) << logs.text();
  EXPECT_EQ(read_bytes(index_path), good_index);
}

// A sealed segment with 4 KiB index entries (each 5-record batch is small: about 40
// batches per entry) and the directory, for the two tests below (found by fuzzing,
// tests/fuzz/regressions/recovery/).
struct SealedSegment {
  TempDir dir;
  std::vector<std::int64_t> bases;
  std::string log_path;
  std::string index_path;
  SealedSegment() {
    LogOptions options;
    options.segment_bytes = 64 * 1024;
    PartitionLog log(dir.path(), options);
    for (int i = 0; i < 400; ++i) append_values(log, "s" + std::to_string(i), 5);
    bases = list_segments(dir.path(), false);
    log_path = segment_path(dir.path(), bases.at(0), log_extension);
    index_path = segment_path(dir.path(), bases.at(0), index_extension);
  }
};

TEST(RecoveryTest, IndexEntryPastTheEndOfASealedSegmentIsRebuiltNotFollowed) {
  SealedSegment sealed;
  ASSERT_GE(sealed.bases.size(), 2u);
  const auto log_size = std::filesystem::file_size(sealed.log_path);
  const auto good_index = read_bytes(sealed.index_path);
  std::string bad = good_index;
  encode_index_entry(bad, IndexEntry{1'000'000, 0x40000000});  // 1 GiB: past the end
  write_bytes(sealed.index_path, bad);
  LogCapture logs;
  LogOptions repair;
  repair.repair = true;  // used to truncate the segment *up* to the bogus position
  PartitionLog log(sealed.dir.path(), repair);
  EXPECT_EQ(log.end_offset(), 2000);
  EXPECT_TRUE(logs.contains("bad_index")) << logs.text();
  EXPECT_EQ(std::filesystem::file_size(sealed.log_path), log_size);
  EXPECT_EQ(read_bytes(sealed.index_path), good_index);
}

TEST(RecoveryTest, ReaderRefusesABatchThatDoesNotContinueThePreviousOne) {
  SealedSegment sealed;
  ASSERT_GE(sealed.bases.size(), 2u);
  // Rewrite the second batch's base offset (and its CRC, so only the offset is wrong).
  // It lies before the segment's last index entry, which is where recovery's check of a
  // sealed segment starts, so only the reader can meet it.
  auto bytes = read_bytes(sealed.log_path);
  BatchHeader first;
  ASSERT_EQ(check_batch(bytes, first), BatchCheck::ok);
  const std::size_t second = first.total_size();
  const std::int64_t wrong = std::int64_t{1} << 32;
  std::memcpy(bytes.data() + second + 16, &wrong, sizeof wrong);  // little-endian host
  BatchHeader header;
  ASSERT_EQ(check_batch(std::string_view(bytes).substr(second), header), BatchCheck::bad_checksum);
  const std::uint32_t fixed = crc32c(bytes.data() + second + 8, header.total_size() - 8);
  std::memcpy(bytes.data() + second + 4, &fixed, sizeof fixed);
  write_bytes(sealed.log_path, bytes);
  PartitionLog log(sealed.dir.path(), LogOptions{});  // opens: the damage is before the last index entry
  PartitionReader reader(sealed.dir.path(), 0);
  std::vector<DecodedRecord> records;
  try {
    while (reader.read(100, records) > 0) {}
    FAIL() << "expected offset_mismatch";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::corruption);
    EXPECT_NE(error.message().find("offset_mismatch"), std::string::npos) << error.message();
    EXPECT_NE(error.message().find(sealed.log_path), std::string::npos) << error.message();
  }
  EXPECT_EQ(records.size(), 5u);  // the first batch, nothing with the wrong offsets
}

TEST(RecoveryTest, ForeignFileInAPartitionIsAnError) {
  Damaged damaged;
  write_bytes(damaged.dir.path() + "/notes.txt", "hello");
  try {
    damaged.reopen();
    FAIL() << "expected foreign_file";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::corruption);
    EXPECT_NE(error.message().find("foreign_file"), std::string::npos) << error.message();
    EXPECT_NE(error.message().find("notes.txt"), std::string::npos) << error.message();
  }
}

TEST(RecoveryTest, DataDirChecks) {
  TempDir empty;
  DataDir fresh{empty.path() + "/data"};
  open_data_dir(fresh, false);
  EXPECT_EQ(read_bytes(fresh.root + "/FORMAT"), "mq-embedded 1\n");
  open_data_dir(fresh, false);  // reopening is fine
  require_lane_format(fresh, false);  // the first priority lane moves the tree to version 2
  EXPECT_EQ(read_bytes(fresh.root + "/FORMAT"), "mq-embedded 2\n");
  open_data_dir(fresh, false);

  write_bytes(fresh.root + "/FORMAT", "mq-embedded 3\n");
  try {
    open_data_dir(fresh, false);
    FAIL() << "expected unsupported_version";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::corruption);
    EXPECT_NE(error.message().find("unsupported_version"), std::string::npos) << error.message();
  }

  TempDir other;
  write_bytes(other.path() + "/photo.jpg", "jpeg");
  try {
    open_data_dir(DataDir{other.path()}, false);
    FAIL() << "expected foreign_file";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::corruption);
    EXPECT_NE(error.message().find("not an mq data dir"), std::string::npos) << error.message();
  }
}

}  // namespace
}  // namespace mq::engines::embedded
