// What every shop program shares: command line, the results file each service keeps
// up to date (the driver reads it for progress and for the final table), graceful stop
// on SIGTERM, and the consumer options all groups use.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <mq/mq.hpp>

namespace shop {

// The services' consumer groups, in one place: the services join them, the driver
// waits for their lag and replays the inventory's dead letters.
namespace groups {
inline const std::string inventory = "inventory.stock.group";
inline const std::string notifications = "notifications.email.group";
inline const std::string analytics = "analytics.events.group";
inline const std::string payment_checks = "orders.payment-timeout.group";
inline const std::vector<std::string> all = {inventory, notifications, analytics, payment_checks};
}  // namespace groups

struct Args {
  std::string url;            // --url: the engine all programs share
  std::filesystem::path dir;  // --dir: run directory (results files, restock flag)
  std::uint64_t orders = 0;   // --orders
  std::chrono::milliseconds payment_timeout{300};  // --payment-timeout-ms
};
// Exits with status 2 and a usage line on anything unknown or missing.
Args parse_args(int argc, char** argv, const char* program);

std::int64_t now_ms();

// Counters of one service, written as "name value" lines. Thread-safe.
class Report {
 public:
  void add(const std::string& name, std::int64_t delta = 1);
  void set(const std::string& name, std::int64_t value);
  // Latency samples (ms); written as <name>_p50 / <name>_p99.
  void sample(const std::string& name, std::int64_t ms);
  void set_consumer(const std::string& prefix, const mq::ConsumerStats& stats);
  // Atomic: written to a temporary file, then renamed over `path`.
  void write(const std::filesystem::path& path) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> values_;
  std::map<std::string, std::vector<std::int64_t>> samples_;
};
std::map<std::string, std::int64_t> read_report(const std::filesystem::path& path);

// Blocks SIGTERM and SIGINT in every thread; call first in main, before any thread.
void block_stop_signals();
// True when SIGTERM or SIGINT is pending (blocked by block_stop_signals, not taken):
// a long loop checks it to stop early; serve_until_stopped then takes the signal.
bool stop_requested();
// Writes the report with `consumer`'s stats (as <prefix>_retried, ...) to `path` about
// every 200 ms until SIGTERM or SIGINT arrives; then stops the consumer gracefully and
// writes the final report, marked "stopped 1".
void serve_until_stopped(Report& report, const std::filesystem::path& path, mq::Consumer& consumer,
                         const std::string& prefix);

// Start at the earliest offset (no order is missed while a group joins), dedup on
// (a message id is processed once per group), fast retries so the demo is quick.
mq::ConsumerOptions consumer_options(const mq::Client& client, std::string group,
                                     std::vector<std::string> topics);

// Runs a service's main body; mq::Error and other exceptions become exit status 1.
int guarded(const char* program, const std::function<int()>& body);

}  // namespace shop
