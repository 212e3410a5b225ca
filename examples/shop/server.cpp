#include "server.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>

#include "process.hpp"

namespace shop {
namespace {

// URL schemes whose engine (and script) has another name. Every other scheme is its
// engine's name (redis://, kafka://).
const std::map<std::string, std::string> engine_of_scheme = {{"amqp", "rabbitmq"}};

// Starting RabbitMQ on a loaded 2-vCPU machine has taken 45 s; its script waits up to
// 120 s itself.
constexpr std::chrono::seconds start_timeout{180};
constexpr std::chrono::seconds stop_timeout{120};

int run_script(const std::filesystem::path& script, const std::string& verb, const std::filesystem::path& dir,
               std::chrono::milliseconds timeout) {
  // Its own process group: a Ctrl-C meant for the demo must not kill the server under
  // the script; the driver stops it in order.
  const process::Spawn how{true, {}, dir / (verb + ".log"), true};
  return process::wait(process::start({"/bin/bash", script.string(), verb, dir.string()}, how), timeout);
}

}  // namespace

std::string engine_to_start(const std::string& target) {
  const auto separator = target.find("://");
  if (separator == std::string::npos) return target;  // a name, or empty
  if (separator + 3 != target.size()) return {};      // an address: connect to it
  const auto scheme = target.substr(0, separator);
  const auto mapped = engine_of_scheme.find(scheme);
  return mapped == engine_of_scheme.end() ? scheme : mapped->second;
}

std::filesystem::path server_scripts() {
  const char* override = std::getenv("MQ_SERVER_SCRIPTS");
  return override && *override ? override : SHOP_SERVER_SCRIPTS;
}

TestServer::TestServer(const std::string& engine, const std::filesystem::path& dir)
    : script_(server_scripts() / (engine + ".sh")), dir_(dir) {
  if (!std::filesystem::exists(script_)) {
    throw std::runtime_error("no test server for engine '" + engine + "': " + script_.string() +
                             " does not exist; give --url with the address of a running server");
  }
  std::filesystem::create_directories(dir_);
  std::cout << "starting a " << engine << " test server (" << script_.filename().string() << " start " << dir_.string()
            << ")" << std::endl;
  running_ = true;  // from here on stop() runs: a failed start may have left a process
  const int status = run_script(script_, "start", dir_, start_timeout);
  std::ifstream(dir_ / "url") >> url_;
  if (status != 0 || url_.empty()) {
    stop();
    throw std::runtime_error(script_.filename().string() + " start failed (status " + std::to_string(status) +
                             "); see " + (dir_ / "start.log").string());
  }
}

bool TestServer::stop() {
  if (!running_) return true;
  running_ = false;
  const int status = run_script(script_, "stop", dir_, stop_timeout);
  if (status != 0) std::cerr << script_.filename().string() << " stop failed; see " << (dir_ / "stop.log").string() << '\n';
  return status == 0;
}

}  // namespace shop
