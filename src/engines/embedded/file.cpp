#include "engines/embedded/file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <random>

namespace mq::engines::embedded {

void File::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

File open_file(const std::string& path, int flags, mode_t mode) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw_io("open " + path, errno);
  return File(fd);
}

File open_if_exists(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT) throw_io("open " + path, errno);
  return File(fd);
}

int write_all_at(int fd, std::string_view data, off_t position) noexcept {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t written = ::pwrite(fd, data.data() + done, data.size() - done,
                                     position + static_cast<off_t>(done));
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (written == 0) return EIO;  // no progress and no error: treat as an I/O failure
    done += static_cast<std::size_t>(written);
  }
  return 0;
}

void read_at(int fd, std::string& out, std::size_t size, off_t position, const std::string& path) {
  out.resize(size);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd, out.data() + done, size - done, position + static_cast<off_t>(done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_io("read " + path, errno);
    }
    if (got == 0) break;  // end of file
    done += static_cast<std::size_t>(got);
  }
  out.resize(done);
}

std::uint64_t file_size(int fd, const std::string& path) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) throw_io("stat " + path, errno);
  return static_cast<std::uint64_t>(status.st_size);
}

std::optional<std::string> read_small_file(const std::string& path) {
  File file = open_if_exists(path, O_RDONLY);
  if (!file.valid()) return std::nullopt;
  std::string contents;
  read_at(file.fd(), contents, file_size(file.fd(), path), 0, path);
  return contents;
}

void replace_file(const std::string& path, std::string_view contents, bool durable) {
  const std::filesystem::path target(path);
  const std::string directory = target.parent_path().string();
  const std::string temporary = directory + "/.tmp-" + random_token();
  {
    File file = open_file(temporary, O_WRONLY | O_CREAT | O_EXCL);
    if (const int error = write_all_at(file.fd(), contents, 0); error != 0) {
      ::unlink(temporary.c_str());
      throw_io("write " + temporary, error);
    }
    if (durable && ::fdatasync(file.fd()) != 0) {
      const int error = errno;
      ::unlink(temporary.c_str());
      throw_io("fdatasync " + temporary, error);
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    throw_io("rename to " + path, error);
  }
  if (durable) sync_directory(directory);
}

void sync_directory(const std::string& path) {
  File directory = open_file(path, O_RDONLY | O_DIRECTORY);
  if (::fsync(directory.fd()) != 0) throw_io("fsync directory " + path, errno);
}

std::string random_token() {
  thread_local std::mt19937_64 generator{std::random_device{}() ^
                                         (static_cast<std::uint64_t>(::getpid()) << 32)};
  static constexpr char digits[] = "0123456789abcdef";
  std::uint64_t value = generator();
  std::string token(16, '0');
  for (auto& character : token) {
    character = digits[value & 0xFu];
    value >>= 4;
  }
  return token;
}

void lock_exclusive(int fd, const std::string& path) {
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) throw_io("lock " + path, errno);
  }
}

bool try_lock_exclusive(int fd, const std::string& path) {
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return false;
    if (errno != EINTR) throw_io("lock " + path, errno);
  }
  return true;
}

void unlock(int fd) noexcept { ::flock(fd, LOCK_UN); }

std::vector<std::string> sorted_entries(const std::string& directory, std::string_view skip_prefix) {
  std::vector<std::string> names;
  std::error_code error;  // a missing directory has no entries
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with(skip_prefix)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace mq::engines::embedded
