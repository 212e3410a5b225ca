// Key -> partition, the way Kafka's default partitioner does it, so that a key lands
// on the same partition number in every engine and in Kafka itself.
#pragma once

#include <cstdint>
#include <string_view>

namespace mq::core {

// Kafka's murmur2 (seed 0x9747b28c), as in the Java client's Utils.murmur2.
std::int32_t murmur2(std::string_view data) noexcept;

// Kafka's toPositive(murmur2(key)) % partitions. `partitions` must be > 0.
int partition_for_key(std::string_view key, int partitions) noexcept;

}  // namespace mq::core
