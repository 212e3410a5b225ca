// Small POSIX file helpers for the embedded engine: an owning descriptor, whole writes,
// atomic replacement, directory sync and flock. Errors map to mq::Error in errors.cpp
// only. Everything here is thread-compatible (a File is used under its owner's lock).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "mq/error.hpp"

namespace mq::engines::embedded {

// Owns one file descriptor; closes it on destruction. Move-only.
class File {
 public:
  File() = default;
  explicit File(int fd) noexcept : fd_(fd) {}
  ~File() { reset(); }
  File(File&& other) noexcept : fd_(other.release()) {}
  File& operator=(File&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  int fd() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept;
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// errors.cpp: the one place errno becomes mq::Error / mq::Status. `what` says what was
// being done ("append to topics/a/0/…log"); the message adds the system's reason.
Error io_error(std::string_view what, int error_number);
Status io_status(std::string_view what, int error_number);
// The status of an exception caught where an answer must still be given: an mq::Error's
// own, anything else (bad_alloc, ...) as internal.
Status status_of(const std::exception& error);
[[noreturn]] void throw_io(std::string_view what, int error_number);

// Opens or throws io_error naming `path`.
File open_file(const std::string& path, int flags, mode_t mode = 0644);
// Opens or returns an invalid File when the file does not exist; throws otherwise.
File open_if_exists(const std::string& path, int flags);

// Writes all of `data` at `position` (retrying short writes). Returns 0 or the errno.
int write_all_at(int fd, std::string_view data, off_t position) noexcept;
// Reads up to `size` bytes at `position` into `out` (resized to what was read). Throws.
void read_at(int fd, std::string& out, std::size_t size, off_t position, const std::string& path);
// File size by descriptor. Throws.
std::uint64_t file_size(int fd, const std::string& path);

// The whole content of a small file, or nullopt when it does not exist.
std::optional<std::string> read_small_file(const std::string& path);
// Replaces `path` with `contents` atomically: a reader sees the old or the new file.
// With `durable`, the data and the rename are fsync'd before returning.
void replace_file(const std::string& path, std::string_view contents, bool durable);
// fsync of a directory, so that names created or removed in it survive an OS crash.
void sync_directory(const std::string& path);
// A random token for temporary and member names (hex, 16 characters).
std::string random_token();

// The names in `directory`, sorted, leaving out those starting with `skip_prefix`
// (half-written temporary files). Empty if the directory does not exist.
std::vector<std::string> sorted_entries(const std::string& directory, std::string_view skip_prefix);

// flock(2) wrappers. The lock belongs to the open file description: it is released when
// every descriptor of it is closed, including by the death of the process.
void lock_exclusive(int fd, const std::string& path);
bool try_lock_exclusive(int fd, const std::string& path);
void unlock(int fd) noexcept;

}  // namespace mq::engines::embedded
