// The one place where hiredis failures and Redis error replies become mq errors
// (STYLE.md). Messages name the server by host:port and the redacted URL; the password
// is never part of them.
#include <fmt/format.h>

#include "engines/redis/connection.hpp"

namespace mq::engines::redis {
namespace {

ErrorCode code_for_reply(std::string_view text) {
  // Redis error replies start with an upper-case code word.
  if (text.starts_with("WRONGPASS") || text.starts_with("NOAUTH") || text.starts_with("NOPERM")) {
    return ErrorCode::connection;  // the server refuses us: as unusable as an unreachable one
  }
  if (text.starts_with("LOADING") || text.starts_with("BUSY ") || text.starts_with("MASTERDOWN") ||
      text.starts_with("READONLY")) {
    return ErrorCode::connection;  // the server is not serving writes right now: try again later
  }
  if (text.starts_with("OOM")) return ErrorCode::limit_exceeded;  // maxmemory reached
  if (text.starts_with("NOGROUP")) return ErrorCode::not_found;
  if (text.starts_with("BUSYGROUP")) return ErrorCode::already_exists;
  if (text.starts_with("ERR unknown command") || text.starts_with("ERR DB index")) {
    return ErrorCode::not_supported;
  }
  return ErrorCode::internal;  // a command mq built wrongly: a bug
}

}  // namespace

Error connection_error(const ServerAddress& address, std::string_view what) {
  return Error(ErrorCode::connection, fmt::format("redis server {} ({}): {}", address.where(), address.redacted, what));
}

Status reply_status(const ServerAddress& address, std::string_view what, const Reply& reply) {
  if (!reply.is_error()) return Status();
  return Status(code_for_reply(reply.text()),
                fmt::format("redis server {}: {}: {}", address.where(), what, reply.text()));
}

Reply checked(const ServerAddress& address, std::string_view what, Reply reply) {
  if (reply.is_error()) throw Error(reply_status(address, what, reply));
  return reply;
}

}  // namespace mq::engines::redis
