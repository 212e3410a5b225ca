// How a failed message becomes a dead letter, and how a dead letter is turned back into
// the original message for replay. The header names are in mq/names.hpp.
#pragma once

#include <string>
#include <string_view>

#include "mq/message.hpp"

namespace mq::core {

// A copy of `failed` for the group's dead-letter topic: same id, key, value and user
// headers, plus original topic/partition/offset, error text, attempts, group, time.
Message make_dead_letter(const Message& failed, std::string_view group, std::string_view error, int attempts);

// The message a dead letter replays as: original topic, same id, key, value and user
// headers; the reserved mq-* headers of the failure are removed.
Message replay_from_dead_letter(const Message& dead_letter);

}  // namespace mq::core
