#include "test_support.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "engines/embedded/partition_reader.hpp"

namespace mq::engines::embedded::test {

using namespace std::chrono_literals;

std::vector<core::Record> drain(core::Subscription& subscription, std::size_t expected) {
  std::vector<core::Record> records;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (records.size() < expected && std::chrono::steady_clock::now() < deadline) {
    for (auto& record : subscription.poll(1000, 100ms)) {
      subscription.ack(record);
      records.push_back(std::move(record));
    }
  }
  return records;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/mq-embedded-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

Message make_message(const std::string& value, std::optional<std::string> key) {
  Message message;
  message.topic = "test.topic";
  message.key = std::move(key);
  message.value = value;
  message.id = "id-" + value;
  message.timestamp = Clock::now();
  return message;
}

std::int64_t append_values(PartitionLog& log, const std::string& prefix, int count) {
  std::vector<Message> messages;
  for (int i = 0; i < count; ++i) messages.push_back(make_message(prefix + "-" + std::to_string(i)));
  std::vector<RecordInput> records;
  for (const auto& message : messages) records.push_back(RecordInput{&message, nullptr, std::nullopt});
  const auto outcome = log.append(records);
  if (!outcome.status.ok()) throw Error(outcome.status);
  return outcome.base_offset;
}

std::vector<DecodedRecord> read_all(const std::string& directory, std::int64_t offset) {
  PartitionReader reader(directory, offset);
  std::vector<DecodedRecord> records;
  while (reader.read(4096, records) > 0) {}
  return records;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::uint64_t inode_of(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) throw std::runtime_error("stat " + path);
  return status.st_ino;
}

LogCapture::LogCapture() {
  set_logger(
      [this](LogLevel, std::string_view message) {
        std::lock_guard lock(mutex_);
        lines_.emplace_back(message);
      },
      LogLevel::info);
}

LogCapture::~LogCapture() { reset_logger(); }

bool LogCapture::contains(const std::string& text) const { return this->text().find(text) != std::string::npos; }

std::string LogCapture::text() const {
  std::lock_guard lock(mutex_);
  std::string all;
  for (const auto& line : lines_) all += line + "\n";
  return all;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace mq::engines::embedded::test
