#include "harness.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
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
  // A server engine under ctest: the name is fixed at discovery, the URL is read from
  // the server's dir when a case runs (server_url()).
  if (const char* engine = std::getenv("MQ_CONFORMANCE_ENGINE"); engine && *engine) {
    return std::vector<std::string>{std::string(engine) + ":"};
  }
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

std::string ConformanceTest::url() const {
  const std::string& param = GetParam();
  if (param.back() != ':') return param;
  return server_url();
}

std::string server_url() {
  const char* dir = std::getenv("MQ_CONFORMANCE_SERVER_DIR");
  if (!dir || !*dir) throw std::runtime_error("MQ_CONFORMANCE_ENGINE needs MQ_CONFORMANCE_SERVER_DIR");
  return read_server_url(dir);
}

std::string read_server_url(const std::string& dir) {
  std::ifstream file(dir + "/url");
  std::string url;
  if (!std::getline(file, url) || url.empty()) throw std::runtime_error("no server url in " + dir + "/url");
  return url;
}

ServerControl::ServerControl(std::string script, std::string dir) : script_(std::move(script)), dir_(std::move(dir)) {}

ServerControl::~ServerControl() {
  if (!owned_) return;
  run("stop");
  std::error_code ignored;  // best effort: a leftover temp dir is not a test failure
  std::filesystem::remove_all(dir_, ignored);
}

std::unique_ptr<ServerControl> ServerControl::start_private() {
  const char* script = std::getenv("MQ_CONFORMANCE_SERVER_SCRIPT");
  if (!script || !*script) return nullptr;
  std::string pattern = ::testing::TempDir() + "mq-server-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  auto control = std::unique_ptr<ServerControl>(new ServerControl(script, pattern));
  control->owned_ = true;
  if (!control->run("start")) throw std::runtime_error(std::string("could not start a server with ") + script);
  return control;
}

bool ServerControl::run(const std::string& verb) {
  const std::string command = "'" + script_ + "' " + verb + " '" + dir_ + "' >/dev/null";
  return std::system(command.c_str()) == 0;
}

bool ServerControl::down() { return run("down"); }
bool ServerControl::up() { return run("up"); }
std::string ServerControl::url() const { return read_server_url(dir_); }

Config ConformanceTest::test_config() const {
  auto config = Config::defaults("development");
  config.url = url();
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
