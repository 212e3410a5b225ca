// Equality of two short strings, such as topic names, without a library call.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace mq::core {

// a == b. Hot paths compare each message's topic with the previous message's (metrics
// per topic); for the usual 8 to 16 characters this compares two overlapping 8-byte
// words inline, where operator== calls memcmp for every message.
inline bool same_text(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  const std::size_t size = a.size();
  if (size < 8 || size > 16) return a == b;
  std::uint64_t a_head, a_tail, b_head, b_tail;  // the first and the last 8 bytes
  std::memcpy(&a_head, a.data(), 8);
  std::memcpy(&b_head, b.data(), 8);
  std::memcpy(&a_tail, a.data() + size - 8, 8);
  std::memcpy(&b_tail, b.data() + size - 8, 8);
  return a_head == b_head && a_tail == b_tail;
}

}  // namespace mq::core
