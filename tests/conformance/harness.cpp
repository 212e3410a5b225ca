#include "harness.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>

namespace mq::conformance {
namespace {

// Removes the embedded data dir when the test program ends.
class TemporaryDirCleanup : public ::testing::Environment {
 public:
  explicit TemporaryDirCleanup(std::string path) : path_(std::move(path)) {}
  void TearDown() override {
    std::error_code ignored;  // best effort: a leftover temp dir is not a test failure
    std::filesystem::remove_all(path_, ignored);
  }

 private:
  std::string path_;
};

std::string make_temporary_dir() {
  std::string pattern = ::testing::TempDir() + "mq-conformance-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  ::testing::AddGlobalTestEnvironment(new TemporaryDirCleanup(pattern));  // gtest owns it
  return pattern;
}

bool engine_is_built(const std::string& url) {
  try {
    Client probe(url, Config::defaults("development"));
    return true;
  } catch (const Error& error) {
    if (error.code() == ErrorCode::not_supported) return false;
    throw;
  }
}

}  // namespace

std::vector<std::string> engine_urls() {
  static const std::vector<std::string> cached = [] {
  std::vector<std::string> urls;
  if (const char* list = std::getenv("MQ_CONFORMANCE_URLS"); list && *list) {
    std::stringstream stream(list);
    for (std::string url; std::getline(stream, url, ',');) {
      if (!url.empty()) urls.push_back(url);
    }
    return urls;
  }
  urls.push_back("memory://conformance");
  const std::string embedded = "embedded://" + make_temporary_dir();
  if (engine_is_built(embedded)) urls.push_back(embedded);
  return urls;
  }();
  return cached;
}

std::string engine_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(0, info.param.find(':'));
  return name + std::to_string(info.index);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(2ms);  // polling interval of the wait, not a fixed delay
  }
  return true;
}

bool stays_false(const std::function<bool()>& condition, std::chrono::milliseconds window) {
  return !wait_until(condition, window);
}

void Collector::add(const Message& message) {
  std::lock_guard lock(mutex_);
  messages_.push_back(message);
  ++counts_[message.id];
}

std::size_t Collector::total() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

std::size_t Collector::distinct() const {
  std::lock_guard lock(mutex_);
  return counts_.size();
}

bool Collector::wait_for_total(std::size_t count, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return total() >= count; }, timeout);
}

std::vector<Message> Collector::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

std::set<std::string> Collector::ids() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> result;
  for (const auto& [id, count] : counts_) result.insert(id);
  return result;
}

std::map<std::string, int> Collector::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

void ConformanceTest::SetUp() { client_ = new_client(); }

Config ConformanceTest::test_config() const {
  auto config = Config::defaults("development");
  config.url = GetParam();
  config.producer.linger = 1ms;
  config.consumer.retry.initial_backoff = 50ms;
  config.consumer.retry.max_backoff = 500ms;
  config.consumer.poll_interval = 50ms;
  return config;
}

std::unique_ptr<Client> ConformanceTest::new_client() const { return std::make_unique<Client>(test_config()); }

std::string ConformanceTest::unique(const std::string& what) {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info ? info->name() : "test";
  test = test.substr(0, test.find('_'));  // the case id: "C07"
  for (auto& c : test) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return test + "-p" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "." + what;
}

ConsumerOptions ConformanceTest::consumer_options(const std::string& group_name, std::vector<std::string> topics,
                                                  StartPosition start) const {
  ConsumerOptions options = test_config().consumer;
  options.group = group_name;
  options.topics = std::move(topics);
  options.start = start;
  options.stop_timeout = 30s;
  return options;
}

std::vector<Receipt> send_numbered(Producer& producer, const std::string& topic, int count,
                                   const std::function<std::optional<std::string>(int)>& key_of) {
  std::vector<Message> batch;
  std::vector<Receipt> receipts;
  for (int i = 0; i < count; ++i) {
    Message message(topic, std::to_string(i));
    if (key_of) message.key = key_of(i);
    batch.push_back(std::move(message));
    if (batch.size() == 500) {
      auto part = producer.send_batch(std::move(batch));
      receipts.insert(receipts.end(), part.begin(), part.end());
      batch.clear();
    }
  }
  auto part = producer.send_batch(std::move(batch));
  receipts.insert(receipts.end(), part.begin(), part.end());
  return receipts;
}

}  // namespace mq::conformance
