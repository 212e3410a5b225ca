// Running the built mqctl from tests: once to completion (output and exit code), or in
// the background (mqctl serve) with a deadline-bounded wait for a line of its output.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace mqctl::test {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() / ("mqctl-test-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Single-quotes one argument for /bin/sh.
inline std::string quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The engine a test case runs mqctl against; it is empty when the case starts:
// - MQCTL_TEST_SERVER_SCRIPT=scripts/servers/<engine>.sh: a fresh server of the case's
//   own, started on first use with `SCRIPT start DIR` (the conformance contract: it
//   writes DIR/url and DIR/pid) and stopped with `SCRIPT stop DIR` when the case ends;
// - MQCTL_TEST_URL: that engine (the case expects it to be empty);
// - otherwise embedded:// in the case's directory.
// Not thread-safe: one per test case.
class TestEngine {
 public:
  explicit TestEngine(fs::path dir) : dir_(std::move(dir)) {}
  ~TestEngine() {
    if (started_) std::system((quote(script()) + " stop " + quote((dir_ / "server").string()) + " >/dev/null 2>&1").c_str());
  }
  TestEngine(const TestEngine&) = delete;
  TestEngine& operator=(const TestEngine&) = delete;

  const std::string& url() {
    if (!url_.empty()) return url_;
    if (!script().empty()) {
      const auto server = dir_ / "server";
      const auto log = dir_ / "server-start.log";
      started_ = true;  // stop it even when the start fails half-way
      const int status =
          std::system((quote(script()) + " start " + quote(server.string()) + " > " + quote(log.string()) + " 2>&1").c_str());
      std::ifstream(server / "url") >> url_;
      // The script's own words (a started server's URL is printed only on success).
      if (status != 0 || url_.empty()) throw std::runtime_error(script() + " start failed: " + slurp(log));
    } else if (const char* other = std::getenv("MQCTL_TEST_URL"); other && *other) {
      url_ = other;
    } else {
      url_ = "embedded://" + (dir_ / "data").string();
    }
    return url_;
  }
  // The engine's name as mq reports it (capabilities().engine): the script's name.
  static std::string name() {
    const auto path = script();
    return path.empty() ? "embedded" : fs::path(path).stem().string();
  }

 private:
  static std::string script() {
    const char* path = std::getenv("MQCTL_TEST_SERVER_SCRIPT");
    return path ? path : "";
  }
  fs::path dir_;
  std::string url_;
  bool started_ = false;
};

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `mqctl args...` with stdin from `input`, in `dir` (outputs go there too).
inline Result run(const fs::path& dir, const std::vector<std::string>& args, const std::string& input = "") {
  static int counter = 0;
  const auto base = dir / ("run" + std::to_string(++counter));
  { std::ofstream(base.string() + ".in", std::ios::binary) << input; }
  std::string command = quote(MQCTL_PATH);
  for (const auto& arg : args) command += " " + quote(arg);
  command += " < " + quote(base.string() + ".in") + " > " + quote(base.string() + ".out") + " 2> " +
             quote(base.string() + ".err");
  const int status = std::system(command.c_str());
  Result result;
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(base.string() + ".out");
  result.err = slurp(base.string() + ".err");
  return result;
}

// A background mqctl whose stdout and stderr go to files; killed (SIGTERM, then
// waited for) when destroyed.
class Background {
 public:
  Background(const fs::path& dir, const std::vector<std::string>& args, const std::string& name) {
    out_ = dir / (name + ".out");
    err_ = dir / (name + ".err");
    pid_ = ::fork();
    if (pid_ == 0) {
      if (!std::freopen(out_.c_str(), "w", stdout) || !std::freopen(err_.c_str(), "w", stderr)) std::_Exit(127);
      std::vector<char*> argv;
      std::vector<std::string> copy = args;
      copy.insert(copy.begin(), MQCTL_PATH);
      for (auto& arg : copy) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(MQCTL_PATH, argv.data());
      std::_Exit(127);
    }
  }
  ~Background() { stop(); }

  // Stops the process; returns its exit code (-1 if killed by a signal).
  int stop() {
    if (pid_ <= 0) return code_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return code_;
  }
  // Waits until stdout (or stderr) contains `text`, or throws after `deadline`.
  std::string wait_for(const std::string& text, bool on_stderr = false,
                       std::chrono::milliseconds deadline = std::chrono::seconds(30)) const {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      std::string content = slurp(on_stderr ? err_ : out_);
      if (content.find(text) != std::string::npos) return content;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a file; bounded by the deadline
    }
    throw std::runtime_error("mqctl never printed '" + text + "'; stderr: " + slurp(err_));
  }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return false;
    }
    return true;
  }

 private:
  pid_t pid_ = -1;
  int code_ = -1;
  fs::path out_, err_;
};

// Polls `condition` until it holds or the deadline passes; returns whether it held.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace mqctl::test
