// The byte layout of docs/FORMAT.md: CRC32C, the worked example, round trips.
#include <gtest/gtest.h>

#include <random>

#include "engines/embedded/crc32c.hpp"
#include "engines/embedded/format.hpp"
#include "mq/error.hpp"

namespace mq::engines::embedded {
namespace {

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the standard check value
  EXPECT_EQ(crc32c(""), 0u);
  const std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4
}

TEST(Crc32cTest, HardwareAndTableAgreeOnEveryLengthAndAlignment) {
  std::mt19937 random(7);
  std::string data(1000, '\0');
  for (auto& byte : data) byte = static_cast<char>(random());
  for (std::size_t start = 0; start < 9; ++start) {
    for (std::size_t size = 0; start + size <= data.size(); size += 37) {
      ASSERT_EQ(crc32c_extend(0, data.data() + start, size), crc32c_extend_portable(0, data.data() + start, size));
    }
  }
  // Extending in pieces equals one pass.
  EXPECT_EQ(crc32c_extend(crc32c(data.data(), 100), data.data() + 100, 900), crc32c(data));
}

TEST(FormatTest, WorkedExample) {
  Message message;
  message.key = "k1";
  message.value = "hi";
  message.id = "id-1";
  message.timestamp = from_nanoseconds(1'000'000'000);
  std::string bytes;
  const RecordInput record{&message, nullptr, std::nullopt};
  encode_batch(bytes, 0, std::span(&record, 1));
  ASSERT_EQ(bytes.size(), 86u);
  const unsigned char expected_header[] = {
      'M', 'Q', 'L', 'B', 0, 0, 0, 0, 0x4a, 0, 0, 0, 1, 0, 0, 0,  // crc checked below
      0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
      0x00, 0xca, 0x9a, 0x3b, 0, 0, 0, 0, 0x00, 0xca, 0x9a, 0x3b, 0, 0, 0, 0,
      0x22, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xca, 0x9a, 0x3b, 0, 0, 0, 0,
      1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4, 0};
  for (std::size_t i = 0; i < sizeof expected_header; ++i) {
    if (i >= 4 && i < 8) continue;
    ASSERT_EQ(static_cast<unsigned char>(bytes[i]), expected_header[i]) << "byte " << i;
  }
  EXPECT_EQ(bytes.substr(0x4e), "k1hiid-1");
  const std::uint32_t crc = crc32c(bytes.data() + 8, bytes.size() - 8);
  EXPECT_EQ(static_cast<unsigned char>(bytes[4]), crc & 0xFFu);
  EXPECT_EQ(static_cast<unsigned char>(bytes[7]), crc >> 24);
}

TEST(FormatTest, RoundTripsEveryField) {
  Message message;
  message.key = std::string("\0key\xff", 5);
  message.value = std::string("va\0lue\x80", 7);
  message.id = "0190b6a2-5c1e-7a3b-9f2d-4c8e1a7b3d5f";
  message.timestamp = Clock::now();
  message.priority = 7;
  for (int i = 0; i < 100; ++i) message.headers.add("h" + std::to_string(i), std::string(i, 'x'));
  Message plain;
  plain.value = "";
  const DelayTarget delay{from_nanoseconds(42), "order.created", 3};
  const RecordInput records[] = {{&message, nullptr, std::nullopt}, {&plain, &delay, 99}};
  std::string bytes;
  encode_batch(bytes, 1000, records);
  BatchHeader header;
  ASSERT_EQ(check_batch(bytes, header), BatchCheck::ok);
  EXPECT_EQ(header.base_offset, 1000);
  EXPECT_EQ(header.count, 2u);
  EXPECT_EQ(header.total_size(), bytes.size());
  std::vector<DecodedRecord> decoded;
  decode_records(bytes, header, decoded, "test");
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[0].offset, 1000);
  EXPECT_EQ(decoded[0].message.key, message.key);
  EXPECT_EQ(decoded[0].message.value, message.value);
  EXPECT_EQ(decoded[0].message.id, message.id);
  EXPECT_EQ(decoded[0].message.headers, message.headers);
  EXPECT_EQ(decoded[0].message.priority, 7);
  EXPECT_EQ(decoded[0].message.timestamp, message.timestamp);
  EXPECT_FALSE(decoded[0].delay);
  EXPECT_EQ(decoded[1].offset, 1001);
  EXPECT_FALSE(decoded[1].message.key);
  ASSERT_TRUE(decoded[1].delay);
  EXPECT_EQ(decoded[1].delay->topic, "order.created");
  EXPECT_EQ(decoded[1].delay->partition, 3);
  EXPECT_EQ(decoded[1].delay->due, from_nanoseconds(42));
  EXPECT_EQ(decoded[1].delay_sequence, 99u);
}

TEST(FormatTest, ChecksClassifyDamage) {
  Message message;
  message.value = "payload";
  const RecordInput record{&message, nullptr, std::nullopt};
  std::string bytes;
  encode_batch(bytes, 0, std::span(&record, 1));
  BatchHeader header;
  EXPECT_EQ(check_batch(std::string_view(bytes).substr(0, 20), header), BatchCheck::incomplete);
  EXPECT_EQ(check_batch(std::string(12, '\0'), header), BatchCheck::zero_prefix);
  std::string flipped = bytes;
  flipped[60] ^= 1;
  EXPECT_EQ(check_batch(flipped, header), BatchCheck::bad_checksum);
  std::string magic = bytes;
  magic[0] = 'X';
  EXPECT_EQ(check_batch(magic, header), BatchCheck::bad_magic);
  std::string length = bytes;
  length[8] = 1;
  length[9] = length[10] = length[11] = 0;
  EXPECT_EQ(check_batch(length, header), BatchCheck::bad_length);
}

TEST(FormatTest, IndexBuilderIndexesEvery4KiB) {
  IndexBuilder builder;
  std::vector<IndexEntry> index;
  std::vector<TimeIndexEntry> times;
  for (std::uint32_t i = 0; i < 10; ++i) builder.add_batch(i * 1000, i, 100 + i, index, times);
  // Batches at 0, 1000, ..., 9000: the first at least 4096 bytes after 0 is at 5000.
  ASSERT_EQ(index, (std::vector<IndexEntry>{{5, 5000}}));
  ASSERT_EQ(times, (std::vector<TimeIndexEntry>{{100, 0}, {105, 5}}));
  std::string encoded;
  for (const auto& entry : index) encode_index_entry(encoded, entry);
  encoded += "abc";  // a torn trailing entry is ignored
  EXPECT_EQ(decode_index(encoded), index);
}

// FORMAT.md section 5, version 2: the valid slot with the higher sequence wins; a torn
// slot (a crash or a reader racing the owner's pwrite) falls back to the other one.
TEST(OffsetFileTest, NewerValidSlotWinsAndATornSlotFallsBackToTheOther) {
  std::string file = encode_offset_file(42);
  ASSERT_EQ(file.size(), offset_file_size);
  auto contents = decode_offset_file(file, "f");
  EXPECT_EQ(contents.offset, 42);
  EXPECT_EQ(contents.sequence, 1u);
  EXPECT_EQ(contents.version, 2);
  for (std::uint64_t sequence = 2; sequence <= 5; ++sequence) {
    file.replace(offset_slot_position(sequence), offset_slot_size,
                 encode_offset_slot(sequence, 40 + static_cast<std::int64_t>(sequence)));
    contents = decode_offset_file(file, "f");
    EXPECT_EQ(contents.sequence, sequence);
    EXPECT_EQ(contents.offset, 40 + static_cast<std::int64_t>(sequence));
  }
  // Sequence 6 torn halfway through its slot (where 4 was): 5 still wins.
  std::string torn = file;
  torn.replace(offset_slot_position(6), 12, encode_offset_slot(6, 46).substr(0, 12));
  EXPECT_EQ(decode_offset_file(torn, "f").offset, 45);
  // A slot copied into the other slot's place is not believed.
  std::string misplaced = file;
  misplaced.replace(offset_slot_position(4), offset_slot_size, encode_offset_slot(7, 99));
  EXPECT_EQ(decode_offset_file(misplaced, "f").offset, 45);
  // Both slots damaged: a clear error naming the file.
  std::string broken = file;
  broken[offset_slot_position(4) + 3] ^= 1;
  broken[offset_slot_position(5) + 3] ^= 1;
  try {
    decode_offset_file(broken, "groups/g/offsets/t/0");
    FAIL() << "no valid slot must not decode";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::corruption);
    EXPECT_NE(std::string(error.what()).find("groups/g/offsets/t/0: no valid slot"), std::string::npos) << error.what();
  }
}

TEST(OffsetFileTest, VersionOneStillDecodesAndAnUnknownVersionIsAClearError) {
  const std::string v1 = encode_offset_file_v1(1234);
  ASSERT_EQ(v1.size(), offset_file_v1_size);
  const auto contents = decode_offset_file(v1, "f");
  EXPECT_EQ(contents.offset, 1234);
  EXPECT_EQ(contents.version, 1);
  std::string future = encode_offset_file(7);
  future[4] = 3;
  try {
    decode_offset_file(future, "groups/g/offsets/t/0");
    FAIL() << "version 3 must be refused";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::corruption);
    EXPECT_NE(std::string(error.what()).find("unsupported_version 3 of offset file groups/g/offsets/t/0"),
              std::string::npos)
        << error.what();
  }
  std::string bad_v1 = v1;
  bad_v1[9] ^= 1;
  EXPECT_THROW(decode_offset_file(bad_v1, "f"), Error);
  EXPECT_THROW(decode_offset_file(encode_offset_file(7).substr(0, 63), "f"), Error);
  EXPECT_THROW(decode_offset_file("MQO", "f"), Error);
}

}  // namespace
}  // namespace mq::engines::embedded
