#include "fuzz_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "engines/embedded/crc32c.hpp"
#include "engines/embedded/endian.hpp"
#include "engines/embedded/format.hpp"
#include "mq/log.hpp"

namespace mq::fuzz {
namespace fs = std::filesystem;
using namespace mq::engines::embedded;

void reseal_batches(std::string& bytes) {
  std::size_t at = 0;
  while (bytes.size() - at >= batch_header_size && std::string_view(bytes).substr(at, 4) == "MQLB") {
    const auto length = load_le<std::uint32_t>(bytes.data() + at + 8);
    if (length < min_batch_length || length > bytes.size() - at - batch_prefix_size) return;
    store_le(bytes.data() + at + 4, crc32c(bytes.data() + at + 8, length + batch_prefix_size - 8));
    at += batch_prefix_size + length;
  }
}

namespace {
struct Scratch {
  Scratch() {
    const fs::path root = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    path = (root / ("mq-fuzz-" + std::to_string(::getpid()))).string();
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string path;
};
}  // namespace

const std::string& scratch_directory() {
  static Scratch scratch;
  return scratch.path;
}

void clear_directory(const std::string& directory) {
  for (const auto& entry : fs::directory_iterator(directory)) fs::remove(entry.path());
}

void write_file(const std::string& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("fuzz harness: cannot create " + path);
  const bool complete = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  ::close(fd);
  if (!complete) throw std::runtime_error("fuzz harness: short write to " + path);
}

void silence_log() {
  set_logger([](LogLevel, std::string_view message) { static_cast<void>(message.size()); }, LogLevel::debug);
}

}  // namespace mq::fuzz
