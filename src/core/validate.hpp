// Validation of everything a caller hands to mq, done in core before an engine or the
// filesystem sees it (DESIGN.md: names; CONFORMANCE.md C05). Each function throws
// mq::Error(invalid_argument or limit_exceeded) with a message naming the problem.
#pragma once

#include <cstddef>
#include <string_view>

#include "mq/message.hpp"

namespace mq::core {

inline constexpr std::size_t max_name_length = 249;

// [A-Za-z0-9._-], 1..249 characters, not "." or "..". `what` names the thing in the
// message ("topic", "group").
void validate_name(std::string_view name, std::string_view what);
// A topic a user may send to or create: a valid name not starting with "mq.".
void validate_user_topic(std::string_view topic);
// A subscription entry: a topic name, or a pattern whose words are names, '*' or '#'.
void validate_subscription(std::string_view entry);
// Non-empty header name, no NUL, at most 255 bytes.
void validate_header_name(std::string_view name);
// Everything about an outgoing message; `max_bytes` bounds key + value + headers.
void validate_message(const Message& message, std::size_t max_bytes, bool allow_reserved_topic);
// Everything but the topic name: headers, priority, partition, size.
void validate_message_body(const Message& message, std::size_t max_bytes);
// Key + value + header bytes, as counted against max_message_bytes.
std::size_t message_size(const Message& message);

}  // namespace mq::core
