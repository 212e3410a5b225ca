#include "mq/error.hpp"

#include <string>

namespace mq {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::not_supported: return "not_supported";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::already_exists: return "already_exists";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::connection: return "connection";
    case ErrorCode::closed: return "closed";
    case ErrorCode::limit_exceeded: return "limit_exceeded";
    case ErrorCode::corruption: return "corruption";
    case ErrorCode::io: return "io";
    case ErrorCode::internal: return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(mq::to_string(code_)) + ": " + message_;
}

Error::Error(ErrorCode code, const std::string& message)
    : std::runtime_error(std::string(to_string(code)) + ": " + message), code_(code), message_(message) {}

}  // namespace mq
