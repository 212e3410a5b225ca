// The one place where the operating system's errors become mq errors (STYLE.md: "each
// engine maps its library's errors in exactly one place").
#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "engines/embedded/file.hpp"

namespace mq::engines::embedded {
namespace {

ErrorCode code_for(int error_number) {
  switch (error_number) {
    case ENOENT: return ErrorCode::not_found;
    case EEXIST: return ErrorCode::already_exists;
    default: return ErrorCode::io;  // ENOSPC, EDQUOT, EFBIG, EIO, EACCES, ...
  }
}

std::string reason_for(int error_number) {
  switch (error_number) {
    case ENOSPC: return "no space left on device";
    case EDQUOT: return "disk quota exceeded";
    case EFBIG: return "file size limit exceeded (RLIMIT_FSIZE or file system maximum)";
    default: return std::strerror(error_number);
  }
}

}  // namespace

Error io_error(std::string_view what, int error_number) {
  return Error(code_for(error_number), fmt::format("{}: {}", what, reason_for(error_number)));
}

Status io_status(std::string_view what, int error_number) {
  return Status(code_for(error_number), fmt::format("{}: {}", what, reason_for(error_number)));
}

Status status_of(const std::exception& error) {
  if (const auto* mq_error = dynamic_cast<const Error*>(&error)) return mq_error->status();
  return Status(ErrorCode::internal, error.what());
}

void throw_io(std::string_view what, int error_number) { throw io_error(what, error_number); }

}  // namespace mq::engines::embedded
