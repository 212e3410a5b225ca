#include "core/validate.hpp"

#include <fmt/format.h>

#include <array>

#include "mq/error.hpp"
#include "mq/names.hpp"

namespace mq::core {
namespace {

// [A-Za-z0-9._-] by table: every send checks its topic's name, character by character.
constexpr auto name_chars = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == '-';
  }
  return table;
}();

bool is_name_char(char c) { return name_chars[static_cast<unsigned char>(c)]; }

// Shows a caller's bad input safely: printable ASCII kept, the rest escaped, long
// inputs shortened.
std::string quoted(std::string_view text) {
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < 64; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > 64) out += fmt::format("...' ({} characters)", text.size());
  else out += "'";
  return out;
}

[[noreturn]] void invalid(std::string message) {
  throw Error(ErrorCode::invalid_argument, std::move(message));
}

}  // namespace

void validate_name(std::string_view name, std::string_view what) {
  if (name.empty()) invalid(fmt::format("invalid {} name: empty", what));
  if (name.size() > max_name_length) {
    invalid(fmt::format("invalid {} name {}: longer than {} characters", what, quoted(name),
                        max_name_length));
  }
  if (name == "." || name == "..") invalid(fmt::format("invalid {} name {}", what, quoted(name)));
  bool valid = true;  // one branch for the whole name, not one per character
  for (char c : name) valid &= is_name_char(c);
  if (!valid) {
    invalid(fmt::format("invalid {} name {}: only letters, digits, '.', '_' and '-' are allowed", what,
                        quoted(name)));
  }
}

void validate_user_topic(std::string_view topic) {
  validate_name(topic, "topic");
  if (topic.starts_with(names::reserved_topic_prefix)) {
    invalid(fmt::format("invalid topic name {}: names starting with '{}' are reserved for mq",
                        quoted(topic), names::reserved_topic_prefix));
  }
}

void validate_subscription(std::string_view entry) {
  if (entry.find_first_of("*#") == std::string_view::npos) {
    validate_name(entry, "topic");
    return;
  }
  if (entry.size() > max_name_length) validate_name(entry, "topic pattern");
  std::size_t start = 0;
  while (true) {
    const auto dot = entry.find('.', start);
    const auto word = entry.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (word != "*" && word != "#") {
      if (word.empty() || word.find_first_of("*#") != std::string_view::npos) {
        invalid(fmt::format("invalid topic pattern {}: '*' and '#' must be whole dot-separated words",
                            quoted(entry)));
      }
      for (char c : word) {
        if (!is_name_char(c)) invalid(fmt::format("invalid topic pattern {}", quoted(entry)));
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
}

void validate_header_name(std::string_view name) {
  if (name.empty()) invalid("invalid header name: empty");
  if (name.size() > 255) invalid(fmt::format("invalid header name {}: longer than 255 bytes", quoted(name)));
  if (name.find('\0') != std::string_view::npos) {
    invalid(fmt::format("invalid header name {}: contains a NUL byte", quoted(name)));
  }
}

std::size_t message_size(const Message& message) {
  std::size_t size = message.value.size() + (message.key ? message.key->size() : 0);
  for (const auto& [name, value] : message.headers) size += name.size() + value.size();
  return size;
}

void validate_message(const Message& message, std::size_t max_bytes, bool allow_reserved_topic) {
  if (allow_reserved_topic) {
    validate_name(message.topic, "topic");
  } else {
    validate_user_topic(message.topic);
  }
  validate_message_body(message, max_bytes);
}

void validate_message_body(const Message& message, std::size_t max_bytes) {
  for (const auto& entry : message.headers) validate_header_name(entry.first);
  if (message.priority < 0 || message.priority > 9) {
    invalid(fmt::format("invalid priority {} for topic '{}': must be 0..9", message.priority,
                        message.topic));
  }
  if (message.partition < -1) {
    invalid(fmt::format("invalid partition {} for topic '{}'", message.partition, message.topic));
  }
  const auto size = message_size(message);
  if (size > max_bytes) {
    throw Error(ErrorCode::limit_exceeded,
                fmt::format("message to topic '{}' is {} bytes; the limit (max_message_bytes) is {}",
                            message.topic, size, max_bytes));
  }
}

}  // namespace mq::core
