// Shared pieces of the conformance suite: the engine parameter, unique names, a
// thread-safe collector of what handlers saw, and waiting with deadlines.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "mq/mq.hpp"

namespace mq::conformance {

using namespace std::chrono_literals;

// The URLs under test: MQ_CONFORMANCE_URLS (comma-separated) if set, else memory:// and
// embedded://<temporary dir> when this build has that engine.
std::vector<std::string> engine_urls();
// Under ctest, a server engine's cases run with MQ_CONFORMANCE_ENGINE=<name> (the
// parameter is then "<name>:") and MQ_CONFORMANCE_SERVER_DIR, where the server's
// script (scripts/servers/<name>.sh) wrote the URL of the server it started.
std::string server_url();
std::string read_server_url(const std::string& dir);

// A server of the engine under test that one case owns (C25 restarts it), started by
// MQ_CONFORMANCE_SERVER_SCRIPT in a temporary dir and stopped when this is destroyed.
// The script's contract: `start DIR` starts a server and writes DIR/url; `stop DIR`
// stops it by its PID; `down DIR` makes it stop serving and `up DIR` serve again on the
// same address with the same data (for a real server: stop, then start again).
class ServerControl {
 public:
  // nullptr when the engine under test has no server script.
  static std::unique_ptr<ServerControl> start_private();
  ~ServerControl();
  bool down();
  bool up();
  std::string url() const;

 private:
  ServerControl(std::string script, std::string dir);
  bool run(const std::string& verb);
  std::string script_;
  std::string dir_;
  bool owned_ = false;
};

// "memory", "embedded", ... for test names.
std::string engine_name(const ::testing::TestParamInfo<std::string>& info);

// Waits until `condition` holds or `timeout` passes; returns the last result.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);
// For negative checks ("nothing else arrives"): true if `condition` stayed false for
// the whole `window`. There is no event to wait for, so a bounded window it must be.
bool stays_false(const std::function<bool()>& condition, std::chrono::milliseconds window);

// Records every message a handler saw, by id. Thread-safe.
class Collector {
 public:
  void add(const Message& message);
  std::size_t total() const;     // every handling, repeats included
  std::size_t distinct() const;  // different ids
  std::size_t duplicates() const { return total() - distinct(); }
  bool wait_for_total(std::size_t count, std::chrono::milliseconds timeout) const;
  std::vector<Message> messages() const;  // in handling order
  std::set<std::string> ids() const;
  std::map<std::string, int> counts() const;

 private:
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
  std::map<std::string, int> counts_;
};

// Base of every conformance case: one Client for the engine under test, unique names.
class ConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override;

  // Defaults tuned for tests: small linger, fast retries. Cases change what they need.
  Config test_config() const;
  // The engine under test's URL.
  std::string url() const;
  Client& client() { return *client_; }
  std::unique_ptr<Client> new_client() const;
  const Capabilities& capabilities() const { return client_->capabilities(); }
  // Unique per test and process, so parallel runs (C32) never share a topic or group.
  std::string unique(const std::string& what);
  std::string topic(const std::string& suffix) { return unique(suffix); }
  std::string group(const std::string& suffix) { return unique(suffix) + ".group"; }
  ConsumerOptions consumer_options(const std::string& group_name, std::vector<std::string> topics,
                                   StartPosition start = StartPosition::earliest) const;

  std::unique_ptr<Client> client_;
};

// Sends `count` messages "0".."count-1" (as values) with the given key function.
std::vector<Receipt> send_numbered(Producer& producer, const std::string& topic, int count,
                                   const std::function<std::optional<std::string>(int)>& key_of = {});

// Skips the case when the engine lacks a capability (CONFORMANCE.md: reported, not hidden).
#define MQ_REQUIRE_CAPABILITY(field)                                                   \
  do {                                                                                 \
    if (!capabilities().field) GTEST_SKIP() << "engine lacks capability '" #field "'"; \
  } while (0)

}  // namespace mq::conformance
