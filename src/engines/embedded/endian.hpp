// Little-endian integers, the byte order of everything on disk (docs/FORMAT.md).
// Written byte by byte, so the result does not depend on the host. Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

namespace mq::engines::embedded {

template <typename Integer>
void store_le(char* out, Integer value) noexcept {
  auto bits = static_cast<std::make_unsigned_t<Integer>>(value);
  for (std::size_t i = 0; i < sizeof(Integer); ++i) {
    out[i] = static_cast<char>(bits & 0xFFu);
    bits = static_cast<decltype(bits)>(bits >> 8);
  }
}

template <typename Integer>
void append_le(std::string& out, Integer value) {
  char bytes[sizeof(Integer)];
  store_le(bytes, value);
  out.append(bytes, sizeof bytes);
}

template <typename Integer>
Integer load_le(const char* data) noexcept {
  std::make_unsigned_t<Integer> bits = 0;
  for (std::size_t i = sizeof(Integer); i-- > 0;) {
    bits = static_cast<decltype(bits)>((bits << 8) | static_cast<unsigned char>(data[i]));
  }
  return static_cast<Integer>(bits);
}

}  // namespace mq::engines::embedded
