// CRC32C (Castagnoli), the checksum of every stored batch, offset file and journal
// entry (docs/FORMAT.md, introduction). Thread-safe, no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mq::engines::embedded {

// Extends `crc` (the value returned for the bytes before; 0 to start) over `size` bytes.
// crc32c("123456789") == 0xE3069283. Uses the SSE4.2 crc32 instruction when the CPU has
// it, a table otherwise; both give the same result.
std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) noexcept;

inline std::uint32_t crc32c(const void* data, std::size_t size) noexcept {
  return crc32c_extend(0, data, size);
}
inline std::uint32_t crc32c(std::string_view bytes) noexcept {
  return crc32c_extend(0, bytes.data(), bytes.size());
}

// The portable table implementation alone, so tests can compare it with the fast path.
std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t size) noexcept;

}  // namespace mq::engines::embedded
