// The demo's test server. `shop_demo --engine redis` (or `--url redis`, `--url redis://`)
// starts the engine's test server with scripts/servers/<engine>.sh, the contract the
// conformance suite uses (`start DIR` starts it on 127.0.0.1, a free port, and writes
// DIR/url and DIR/pid; `stop DIR` stops it by that PID), runs the demo on the URL it
// wrote and stops it at exit: after success, failure, an exception or Ctrl-C. Nothing
// here knows a particular engine: a new engine's script works as it lands.
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace shop {

// The engine whose test server `target` asks for: "redis" for "redis" or "redis://"
// (a scheme with nothing after it); a scheme whose engine has another name maps to
// it ("amqp://" is "rabbitmq"). Empty when `target` is empty or a URL with an address.
std::string engine_to_start(const std::string& target);

// The scripts' folder: $MQ_SERVER_SCRIPTS, else the source tree's scripts/servers.
std::filesystem::path server_scripts();

// Not thread-safe; used by the driver's one thread.
class TestServer {
 public:
  // Starts the server with its data in `dir`. Throws std::runtime_error when there is
  // no script for `engine` or the script fails (its output is in dir/start.log).
  TestServer(const std::string& engine, const std::filesystem::path& dir);
  ~TestServer() { stop(); }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // The engine URL the script wrote (may hold the test server's credentials: print
  // it only through mq::redact_url).
  const std::string& url() const { return url_; }
  // Stops the server (idempotent); false when the script failed to.
  bool stop();

 private:
  std::filesystem::path script_, dir_;
  std::string url_;
  bool running_ = false;
};

}  // namespace shop
