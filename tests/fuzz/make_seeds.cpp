// mq_fuzz_seeds DIR: writes the seed corpus of each fuzz target to DIR/<target>/, built
// with the engine's own encoder and IndexBuilder, so every seed is a real segment, index,
// offset file or journal (plus the classic damage: torn tail, zero tail, bad CRC).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engines/embedded/format.hpp"
#include "fuzz_support.hpp"

namespace {
using namespace mq::engines::embedded;
namespace fs = std::filesystem;

std::string batch_of(std::int64_t base, int count, std::size_t value_size, bool delayed) {
  std::vector<mq::Message> messages(static_cast<std::size_t>(count));
  std::vector<DelayTarget> delays(messages.size());
  std::vector<RecordInput> inputs;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto& message = messages[i];
    message.value = std::string(value_size, static_cast<char>('a' + i % 26));
    message.id = "id-" + std::to_string(base + static_cast<std::int64_t>(i));
    message.timestamp = from_nanoseconds(1'700'000'000'000'000'000 + static_cast<std::int64_t>(i) * 1000);
    message.priority = static_cast<int>(i % 10);
    if (i % 2 == 0) message.key = "key-" + std::to_string(i);
    if (i % 3 == 0) message.headers.add("trace", "00-abc-01");
    delays[i] = DelayTarget{message.timestamp + std::chrono::seconds(5), "orders", static_cast<int>(i % 4)};
    inputs.push_back({&message, delayed ? &delays[i] : nullptr,
                      delayed && i % 2 ? std::optional<std::uint64_t>(i) : std::nullopt});
  }
  std::string out;
  encode_batch(out, base, inputs);
  return out;
}

// A segment from `base`: `batches` batches of `per_batch` records; returns its bytes and
// the .index the writer would have written.
std::string segment_of(std::int64_t base, int batches, int per_batch, std::size_t value_size, std::string* index) {
  std::string log;
  IndexBuilder builder;
  std::vector<IndexEntry> entries;
  std::vector<TimeIndexEntry> time_entries;
  std::int64_t offset = base;
  for (int b = 0; b < batches; ++b) {
    builder.add_batch(log.size(), static_cast<std::uint32_t>(offset - base), 0, entries, time_entries);
    log += batch_of(offset, per_batch, value_size, false);
    offset += per_batch;
  }
  if (index) {
    for (const auto& entry : entries) encode_index_entry(*index, entry);
  }
  return log;
}

void put(const fs::path& directory, const std::string& name, char first, const std::string& bytes) {
  mq::fuzz::write_file((directory / name).string(), std::string(1, first) + bytes);
}

void recovery_seed(const fs::path& directory, const std::string& name, std::uint8_t flags, std::uint8_t base,
                   const std::string& sealed, const std::string& last, const std::string& index) {
  // Header (recovery_fuzz.cpp): flags, second base, index entries, sealed size (u16).
  std::string header{static_cast<char>(flags), static_cast<char>(base),
                     static_cast<char>(index.size() / index_entry_size), static_cast<char>(sealed.size() & 0xff),
                     static_cast<char>(sealed.size() >> 8)};
  mq::fuzz::write_file((directory / name).string(), header + sealed + last + index);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mq_fuzz_seeds DIR\n");
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* target : {"batch", "recovery", "stores"}) fs::create_directories(root / target);

  const std::string plain = batch_of(0, 3, 100, false);
  const std::string delayed = batch_of(7, 2, 20, true);
  std::string gap;
  encode_gap_batch(gap, 9, 4);
  put(root / "batch", "plain", 0, plain);
  put(root / "batch", "delayed", 1, delayed);
  put(root / "batch", "run", 1, plain + batch_of(3, 4, 10, false) + delayed + gap);

  std::string index;
  const std::string sealed = segment_of(0, 6, 2, 1000, &index);  // > 4096 bytes: indexed
  const std::string last = segment_of(12, 3, 1, 50, nullptr);
  std::string torn = last;
  torn.resize(torn.size() - 17);
  std::string garbled = sealed;
  garbled[garbled.size() / 2] ^= 0x5a;
  recovery_seed(root / "recovery", "one", 1, 0, "", last, "");
  recovery_seed(root / "recovery", "torn", 0, 0, "", torn, "");
  recovery_seed(root / "recovery", "zero-tail", 0, 0, "", last + std::string(64, '\0'), "");
  recovery_seed(root / "recovery", "two", 5, 12, sealed, last, index);
  recovery_seed(root / "recovery", "middle", 4, 12, garbled, last, index);
  recovery_seed(root / "recovery", "repair", 6, 12, garbled, last, index);

  put(root / "stores", "index", 0, index);
  std::string time_index;
  encode_time_index_entry(time_index, {1'700'000'000'000'000'000, 0});
  encode_time_index_entry(time_index, {1'700'000'000'100'000'000, 7});
  put(root / "stores", "timeindex", 1, time_index);
  put(root / "stores", "offset-v1", 2, encode_offset_file_v1(42));
  put(root / "stores", "offset", 2, encode_offset_file(42));
  // Both slots valid, the newer in slot 0; and a torn newer slot (the older one wins).
  std::string both = encode_offset_file(42, 7);
  both.replace(offset_slot_position(8), offset_slot_size, encode_offset_slot(8, 43));
  put(root / "stores", "offset-two-slots", 2, both);
  std::string torn_slot = both;
  torn_slot[offset_slot_position(8) + 9] ^= 0x01;
  put(root / "stores", "offset-torn-slot", 2, torn_slot);
  std::string journal;
  encode_journal_entry(journal, {journal_intent, 3, 100});
  encode_journal_entry(journal, {journal_done, 3, 100});
  encode_journal_entry(journal, {journal_floor, 4, 0});
  put(root / "stores", "journal", 3, journal);
  return 0;
}
