#include "service.hpp"

#include <signal.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>

namespace shop {

Args parse_args(int argc, char** argv, const char* program) {
  Args args;
  auto usage = [&] {
    std::cerr << "usage: " << program << " --url URL --dir DIR [--orders N] [--payment-timeout-ms MS]\n";
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage();
    const std::string value = argv[++i];
    if (arg == "--url") args.url = value;
    else if (arg == "--dir") args.dir = value;
    else if (arg == "--orders") args.orders = std::stoull(value);
    else if (arg == "--payment-timeout-ms") args.payment_timeout = std::chrono::milliseconds(std::stoll(value));
    else usage();
  }
  if (args.url.empty() || args.dir.empty()) usage();
  return args;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(mq::Clock::now().time_since_epoch()).count();
}

void Report::add(const std::string& name, std::int64_t delta) {
  std::lock_guard lock(mutex_);
  values_[name] += delta;
}

void Report::set(const std::string& name, std::int64_t value) {
  std::lock_guard lock(mutex_);
  values_[name] = value;
}

void Report::sample(const std::string& name, std::int64_t ms) {
  std::lock_guard lock(mutex_);
  samples_[name].push_back(ms);
}

void Report::set_consumer(const std::string& prefix, const mq::ConsumerStats& stats) {
  set(prefix + "_retried", static_cast<std::int64_t>(stats.retried));
  set(prefix + "_dead_lettered", static_cast<std::int64_t>(stats.dead_lettered));
  set(prefix + "_duplicates", static_cast<std::int64_t>(stats.duplicates));
  set(prefix + "_dropped", static_cast<std::int64_t>(stats.dropped));
}

void Report::write(const std::filesystem::path& path) const {
  const auto temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    std::lock_guard lock(mutex_);
    for (const auto& [name, value] : values_) out << name << ' ' << value << '\n';
    for (auto [name, samples] : samples_) {  // a copy: nth_element reorders
      if (samples.empty()) continue;
      for (const auto& [suffix, fraction] : {std::pair{"_p50", 0.50}, std::pair{"_p99", 0.99}}) {
        auto at = samples.begin() + static_cast<std::ptrdiff_t>(fraction * static_cast<double>(samples.size() - 1));
        std::nth_element(samples.begin(), at, samples.end());
        out << name << suffix << ' ' << *at << '\n';
      }
    }
  }
  std::filesystem::rename(temporary, path);
}

std::map<std::string, std::int64_t> read_report(const std::filesystem::path& path) {
  std::map<std::string, std::int64_t> values;
  std::ifstream in(path);
  std::string name;
  std::int64_t value = 0;
  while (in >> name >> value) values[name] = value;
  return values;
}

namespace {
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

void block_stop_signals() {
  const auto set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A driver that dies (killed, broken pipe) must not leave the services running.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
}

bool stop_requested() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
}

void serve_until_stopped(Report& report, const std::filesystem::path& path, mq::Consumer& consumer,
                         const std::string& prefix) {
  // The signals are blocked in every thread (block_stop_signals), so waiting for them
  // here needs no async-signal-safe handler.
  const auto set = stop_signals();
  const timespec period{0, 200'000'000};
  for (;;) {
    report.set_consumer(prefix, consumer.stats());
    report.write(path);
    if (sigtimedwait(&set, nullptr, &period) > 0) break;
  }
  consumer.stop();
  report.set_consumer(prefix, consumer.stats());
  report.set("stopped", 1);
  report.write(path);
}

mq::ConsumerOptions consumer_options(const mq::Client& client, std::string group, std::vector<std::string> topics) {
  mq::ConsumerOptions options = client.config().consumer;
  options.group = std::move(group);
  options.topics = std::move(topics);
  options.start = mq::StartPosition::earliest;
  options.dedup.enabled = true;
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = std::chrono::milliseconds(20);
  options.retry.jitter = 0;
  options.stop_timeout = std::chrono::seconds(10);
  return options;
}

int guarded(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << '\n';
    return 1;
  }
}

}  // namespace shop
