#include "core/message_id.hpp"

#include <array>
#include <chrono>
#include <cstring>
#include <cstdint>
#include <random>

namespace mq::core {
namespace {

// splitmix64: fast and well distributed; seeded once per thread from random_device.
// Ids need uniqueness, not unpredictability.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t operator()() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// Constant-initialised (seeded on first use): a thread_local with a dynamic initialiser
// costs an initialisation check and extra TLS look-ups on every access from a shared
// library.
struct IdState {
  std::uint64_t last_millis = 0;
  std::uint32_t counter = 0;  // 12 bits (rand_a), restarts from a random point each ms
  bool seeded = false;
  SplitMix64 random{0};
};

// "00".."ff": two hex digits per table look-up.
constexpr auto hex_pairs = [] {
  std::array<char, 512> table{};
  constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < 256; ++i) {
    table[2 * i] = hex[i >> 4];
    table[2 * i + 1] = hex[i & 0xf];
  }
  return table;
}();

// Writes `digits` (even) lower-case hex digits of `value`, most significant first.
void put_hex(char* out, std::uint64_t value, int digits) {
  for (int i = digits - 2; i >= 0; i -= 2) {
    std::memcpy(out + i, &hex_pairs[2 * (value & 0xff)], 2);
    value >>= 8;
  }
}

}  // namespace

std::string new_message_id() { return new_message_id(std::chrono::system_clock::now()); }

std::string new_message_id(std::chrono::system_clock::time_point now) {
  thread_local IdState thread_state;
  IdState& state = thread_state;  // one TLS address lookup (libmq is a shared library)
  if (!state.seeded) {
    state.random.state = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    state.seeded = true;
  }
  auto millis = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  if (millis <= state.last_millis) {
    millis = state.last_millis;
    if (++state.counter > 0xfff) {  // counter exhausted: borrow the next millisecond
      ++millis;
      state.counter = static_cast<std::uint32_t>(state.random() & 0x3ff);
    }
  } else {
    state.counter = static_cast<std::uint32_t>(state.random() & 0x3ff);  // room to count up
  }
  state.last_millis = millis;
  const std::uint64_t random_bits = state.random();
  const std::uint64_t high = (millis << 16) | (0x7ull << 12) | state.counter;  // version 7
  const std::uint64_t low = (random_bits & 0x3fffffffffffffffull) | 0x8000000000000000ull;  // variant
  std::string id(36, '-');
  put_hex(&id[0], high >> 32, 8);
  put_hex(&id[9], (high >> 16) & 0xffff, 4);
  put_hex(&id[14], high & 0xffff, 4);
  put_hex(&id[19], low >> 48, 4);
  put_hex(&id[24], low & 0xffffffffffffull, 12);
  return id;
}

}  // namespace mq::core
