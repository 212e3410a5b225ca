// The one place where mq::ErrorCode becomes an mqctl exit code.
#include "common.hpp"

namespace mqctl {

int exit_code_for(mq::ErrorCode code) {
  switch (code) {
    case mq::ErrorCode::ok: return exit_ok;
    case mq::ErrorCode::not_found: return exit_not_found;
    case mq::ErrorCode::connection:
    case mq::ErrorCode::timeout:
    case mq::ErrorCode::closed: return exit_connection;
    case mq::ErrorCode::invalid_argument:
    case mq::ErrorCode::limit_exceeded: return exit_invalid;
    case mq::ErrorCode::already_exists: return exit_exists;
    case mq::ErrorCode::not_supported: return exit_unsupported;
    case mq::ErrorCode::corruption:
    case mq::ErrorCode::io:
    case mq::ErrorCode::internal: return exit_failure;
  }
  return exit_failure;
}

std::string exit_codes_help() {
  return "Exit codes:\n"
         "  0  success\n"
         "  1  usage: bad command line\n"
         "  2  not found: topic, group, file or dead letter\n"
         "  3  connection: engine unreachable, timed out or closed\n"
         "  4  invalid input: a name, size, value or file line is wrong\n"
         "  5  already exists\n"
         "  6  not supported by the engine or this build\n"
         "  7  other failure (I/O, corruption, internal)\n";
}

}  // namespace mqctl
