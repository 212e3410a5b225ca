#include "engines/embedded/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace mq::engines::embedded {
namespace {

constexpr std::uint32_t reflected_polynomial = 0x82F63B78u;

// Slicing-by-1 table: table[b] is the CRC of byte b alone.
constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? reflected_polynomial : 0u);
    table[byte] = crc;
  }
  return table;
}
constexpr auto crc_table = make_table();

#if defined(__x86_64__)
// Compiled for SSE4.2 only here; called only when the CPU reports it.
__attribute__((target("sse4.2"))) std::uint32_t extend_hardware(std::uint32_t crc, const unsigned char* bytes,
                                                                std::size_t size) noexcept {
  std::uint64_t state = ~crc;
  while (size >= 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes, 8);  // unaligned-safe load
    state = _mm_crc32_u64(state, word);
    bytes += 8;
    size -= 8;
  }
  auto state32 = static_cast<std::uint32_t>(state);
  while (size-- > 0) state32 = _mm_crc32_u8(state32, *bytes++);
  return ~state32;
}

bool cpu_has_sse42() noexcept {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

std::uint32_t crc32c_extend_portable(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint32_t state = ~crc;
  for (std::size_t i = 0; i < size; ++i) state = (state >> 8) ^ crc_table[(state ^ bytes[i]) & 0xFFu];
  return ~state;
}

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t size) noexcept {
#if defined(__x86_64__)
  if (cpu_has_sse42()) return extend_hardware(crc, static_cast<const unsigned char*>(data), size);
#endif
  return crc32c_extend_portable(crc, data, size);
}

}  // namespace mq::engines::embedded
