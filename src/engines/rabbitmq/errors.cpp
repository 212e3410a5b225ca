// RabbitMQ reply codes (AMQP 0-9-1 constants) and rabbitmq-c statuses mapped to mq
// ErrorCodes. Messages name the operation and the redacted URL, never a password.
#include "engines/rabbitmq/errors.hpp"

#include <fmt/format.h>

#include <string>

namespace mq::engines::rabbitmq {
namespace {

ErrorCode code_for_reply(int reply_code) {
  switch (reply_code) {
    case AMQP_NOT_FOUND: return ErrorCode::not_found;
    case AMQP_PRECONDITION_FAILED: return ErrorCode::invalid_argument;  // arguments differ
    case AMQP_RESOURCE_LOCKED: return ErrorCode::already_exists;        // exclusive queue held
    case AMQP_ACCESS_REFUSED: return ErrorCode::connection;             // user lacks rights
    case AMQP_RESOURCE_ERROR: return ErrorCode::limit_exceeded;
    default: return ErrorCode::connection;  // 320 forced (server stopping), 541 internal, ...
  }
}

std::string text_of(const amqp_bytes_t& bytes) { return std::string(static_cast<const char*>(bytes.bytes), bytes.len); }

}  // namespace

Error library_error(int status, std::string_view what, std::string_view address) {
  // Every library failure (refused, timed out, socket closed, heartbeat missed) means
  // the server is unreachable or the connection is gone.
  return Error(ErrorCode::connection, fmt::format("{} ({}): {}", what, address, amqp_error_string2(status)));
}

Error close_error(amqp_method_number_t method, const void* decoded, std::string_view what,
                  std::string_view address) {
  if (method == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_channel_close_t*>(decoded);
    return Error(code_for_reply(close->reply_code),
                 fmt::format("{} ({}): {} {}", what, address, close->reply_code, text_of(close->reply_text)));
  }
  if (method == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* close = static_cast<const amqp_connection_close_t*>(decoded);
    // The connection is gone whatever the reason (320 server stopping, 403 refused, 506
    // "stream not found" while a new stream's writer starts, ...): callers reconnect.
    return Error(ErrorCode::connection,
                 fmt::format("{} ({}): connection closed by the server: {} {}", what, address, close->reply_code,
                             text_of(close->reply_text)));
  }
  return Error(ErrorCode::connection, fmt::format("{} ({}): unexpected AMQP method {:#x}", what, address, method));
}

Error reply_error(const amqp_rpc_reply_t& reply, std::string_view what, std::string_view address) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_LIBRARY_EXCEPTION: return library_error(reply.library_error, what, address);
    case AMQP_RESPONSE_SERVER_EXCEPTION: return close_error(reply.reply.id, reply.reply.decoded, what, address);
    case AMQP_RESPONSE_NONE: return Error(ErrorCode::connection, fmt::format("{} ({}): no reply", what, address));
    default: return Error(ErrorCode::internal, fmt::format("{} ({}): not an error", what, address));
  }
}

}  // namespace mq::engines::rabbitmq
