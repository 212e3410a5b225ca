// fuzz.embedded.batch: arbitrary bytes as a run of record batches, given straight to the
// engine's codec (check_batch, decode_records: docs/FORMAT.md section 3).
//
// Input: byte 0 is harness flags (bit 0: reseal the CRCs first, so mutations reach the
// record decoder); the rest is the batch bytes.
// Properties checked beyond "no crash, no sanitizer report":
// - the only exception is Error(corruption);
// - a batch that decodes re-encodes to exactly its record bytes (the decoder accepts
//   only what encode_batch writes), and the copy checks ok.
#include <cstdlib>
#include <string>
#include <vector>

#include "engines/embedded/format.hpp"
#include "mq/error.hpp"
#include "fuzz_support.hpp"

namespace {
using namespace mq::engines::embedded;

void require(bool condition) {
  if (!condition) std::abort();  // libFuzzer reports the input as a crash
}

void round_trip(std::string_view batch, const BatchHeader& header, const std::vector<DecodedRecord>& records) {
  std::vector<RecordInput> inputs;
  inputs.reserve(records.size());
  for (const auto& record : records) {
    inputs.push_back({&record.message, record.delay ? &*record.delay : nullptr, record.delay_sequence});
  }
  std::string copy;
  encode_batch(copy, header.base_offset, inputs);
  require(std::string_view(copy).substr(batch_header_size) == batch.substr(batch_header_size));
  BatchHeader copy_header;
  require(check_batch(copy, copy_header) == BatchCheck::ok);
  require(copy_header.count == header.count && copy_header.base_offset == header.base_offset);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) mq::fuzz::reseal_batches(bytes);
  std::string_view rest(bytes);
  while (!rest.empty()) {
    BatchHeader header;
    if (check_batch(rest, header) != BatchCheck::ok) break;
    require(header.total_size() <= rest.size());
    const auto batch = rest.substr(0, header.total_size());
    std::vector<DecodedRecord> records;
    bool decoded = true;
    try {
      decode_records(batch, header, records, "fuzz");
    } catch (const mq::Error& error) {
      require(error.code() == mq::ErrorCode::corruption);
      decoded = false;
    }
    if (decoded && !header.is_gap()) {
      require(records.size() == header.count);
      round_trip(batch, header, records);
    }
    rest.remove_prefix(header.total_size());
  }
  return 0;
}
