// Shared by the embedded engine's fuzz targets (tests/fuzz/README.md). Harness code only:
// every byte of the input still goes through the engine's own decoders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mq::fuzz {

// Rewrites the CRC of every batch found walking `bytes` from the start (magic and a
// length that fits; stops at the first position that is not a batch). Without it the
// fuzzer would almost never get past check_batch's CRC test into decode_records and the
// recovery rules for CRC-valid batches.
void reseal_batches(std::string& bytes);

// A private, empty scratch directory for this process (under /dev/shm when present, so
// the recovery target does not wear the disk). Removed at exit.
const std::string& scratch_directory();
// Empties `directory` (files only; the targets create no subdirectories).
void clear_directory(const std::string& directory);
void write_file(const std::string& path, std::string_view bytes);

// Routes mq's log to a sink that drops messages (the recovery warnings would flood the
// fuzzer's output) while keeping the formatting code exercised.
void silence_log();

}  // namespace mq::fuzz
