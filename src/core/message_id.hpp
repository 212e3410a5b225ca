// Message ids: UUIDv7 text (RFC 9562), time-ordered, unique without coordination.
#pragma once

#include <chrono>
#include <string>

namespace mq::core {

// 36 characters, e.g. "0190b6a2-5c1e-7a3b-9f2d-4c8e1a7b3d5f". Ids made by one thread
// sort in creation order (a 12-bit counter fills rand_a within a millisecond).
// Thread-safe (per-thread state).
std::string new_message_id();
// The same with the caller's clock reading (a batch reads the clock once for all of its
// messages: ids stay unique and ordered through the counter).
std::string new_message_id(std::chrono::system_clock::time_point now);

}  // namespace mq::core
