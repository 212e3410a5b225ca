#include "core/partitioner.hpp"

#include <cassert>
#include <cstring>

namespace mq::core {

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils#murmur2). Arithmetic is done on
// uint32_t so that overflow is defined; the result is reinterpreted as signed, as Java's
// int is.
std::int32_t murmur2(std::string_view data) noexcept {
  constexpr std::uint32_t seed = 0x9747b28c;
  constexpr std::uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  const auto length = static_cast<std::uint32_t>(data.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::uint32_t h = seed ^ length;
  const std::uint32_t length4 = length / 4;
  for (std::uint32_t i = 0; i < length4; ++i) {
    const std::uint32_t i4 = i * 4;
    std::uint32_t k = bytes[i4] | (bytes[i4 + 1] << 8) | (bytes[i4 + 2] << 16) |
                      (static_cast<std::uint32_t>(bytes[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::uint32_t tail = length & ~3u;
  switch (length % 4) {
    case 3:
      h ^= static_cast<std::uint32_t>(bytes[tail + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<std::uint32_t>(bytes[tail + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= bytes[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  std::int32_t result;
  std::memcpy(&result, &h, sizeof result);
  return result;
}

int partition_for_key(std::string_view key, int partitions) noexcept {
  assert(partitions > 0);
  // Kafka's Utils.toPositive: clear the sign bit (not abs(), which fails on INT_MIN).
  const std::int32_t positive = murmur2(key) & 0x7fffffff;
  return positive % partitions;
}

}  // namespace mq::core
