// shop_demo: the driver. Starts the shop services as separate processes on one engine,
// lets the order service publish N orders, restocks and replays the inventory's dead
// letters with `mqctl dlq replay`, waits until every count is reached and every group's
// lag is zero, stops the services with SIGTERM and prints the table.
//
//   shop_demo [--orders N] [--engine NAME | --url URL] [--payment-timeout-ms MS] [--keep]
//
// Default: embedded:// in a fresh temp dir. `--engine redis`, `--url redis` or
// `--url redis://` (no address) start that engine's test server (server.hpp) for the
// run; `--url redis://host:port` uses a running one. Exits 0 only when every count
// matches the plan (plan.hpp): no loss, no double processing; 130 after Ctrl-C.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "mqctl.hpp"
#include "plan.hpp"
#include "process.hpp"
#include "server.hpp"
#include "service.hpp"

namespace {

using Report = std::map<std::string, std::int64_t>;
const std::vector<std::string> services = {"inventory", "notifications", "analytics", "orders"};

struct Options {
  std::uint64_t orders = 3000;
  std::string target;  // --url or --engine: a URL, an engine name or "scheme://"
  std::string url;     // what the services connect to (set by main)
  std::string payment_timeout_ms = "300";
  bool keep = false;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--orders" && has_value) options.orders = std::stoull(argv[++i]);
    else if ((arg == "--url" || arg == "--engine") && has_value) options.target = argv[++i];
    else if (arg == "--payment-timeout-ms" && has_value) options.payment_timeout_ms = argv[++i];
    else if (arg == "--keep") options.keep = true;
    else {
      std::cerr << "usage: shop_demo [--orders N] [--engine NAME | --url URL] [--payment-timeout-ms MS] [--keep]\n"
                   "  --engine NAME, --url NAME, --url SCHEME://  start NAME's test server (scripts/servers/NAME.sh)\n"
                   "  --url URL with an address                   use a running server\n";
      std::exit(2);
    }
  }
  return options;
}

// The services run as separate processes; each writes DIR/<name>.report, the first
// time right after its consumer has joined its group.
//
// The consumer services start first and shop_orders only once they have all joined
// (orders_may_start): on an engine where a group that joins while messages are being
// published can get some of them twice (RabbitMQ copies a new group's history: at
// least once), dedup would drop the repeats, but the table's duplicate counts would
// not be exact any more. Services run in process groups of their own: Ctrl-C reaches
// the driver only, which stops them in order.
class Services {
 public:
  Services(const Options& options, const std::filesystem::path& dir) : options_(options), dir_(dir) {
    for (const auto& name : services) {
      if (name != "orders") start(name);
    }
  }
  ~Services() { stop(); }

  std::map<std::string, Report> reports() const {
    std::map<std::string, Report> all;
    for (const auto& name : services) all[name] = shop::read_report(dir_ / (name + ".report"));
    return all;
  }

  // Starts shop_orders once every consumer service has written its first report;
  // true once it runs.
  bool orders_may_start() {
    if (pids_.contains("orders")) return true;
    for (const auto& [name, pid] : pids_) {
      if (!std::filesystem::exists(dir_ / (name + ".report"))) return false;
    }
    start("orders");
    return true;
  }

  // A service that exited before stop() is a failure; returns its name.
  std::string exited_early() {
    for (auto& [name, pid] : pids_) {
      int status = 0;
      if (pid > 0 && shop::process::exited(pid, status)) {
        pid = 0;
        return name;
      }
    }
    return {};
  }

  // SIGTERM to all, then waits (SIGKILL after 20 s). True if all exited with status 0.
  bool stop() {
    bool clean = true;
    for (auto& [name, pid] : pids_) {
      if (pid > 0) kill(pid, SIGTERM);
    }
    for (auto& [name, pid] : pids_) {
      if (pid <= 0) continue;
      if (shop::process::wait(pid, std::chrono::seconds(20)) != 0) {
        std::cerr << "shop_" << name << " did not stop cleanly\n";
        clean = false;
      }
      pid = 0;
    }
    return clean;
  }

 private:
  void start(const std::string& name) {
    const auto bin = std::filesystem::read_symlink("/proc/self/exe").parent_path();
    pids_[name] = shop::process::start({(bin / ("shop_" + name)).string(), "--url", options_.url, "--dir",
                                        dir_.string(), "--orders", std::to_string(options_.orders),
                                        "--payment-timeout-ms", options_.payment_timeout_ms},
                                       {true, {}, {}, false});
  }

  const Options& options_;
  std::filesystem::path dir_;
  std::map<std::string, pid_t> pids_;
};

std::string default_url(const std::filesystem::path& dir) { return "embedded://" + (dir / "data").string(); }

void print_progress(std::map<std::string, Report>& r, const shop::plan::Expected& e) {
  const bool tty = isatty(STDOUT_FILENO);
  static int ticks = 0;  // the driver's one thread calls this
  if (!tty && ticks++ % 10 != 0) return;  // logs (ctest): a line every 2 s, not a redraw
  std::printf("%sorders %lld/%llu | inventory %lld/%llu | notifications %lld/%llu | analytics %lld/%llu | "
              "cancelled %lld/%llu | dead letters %lld%s",
              tty ? "\r" : "", (long long)r["orders"]["created"], (unsigned long long)e.orders,
              (long long)r["inventory"]["reserved"], (unsigned long long)e.orders,
              (long long)r["notifications"]["handled"], (unsigned long long)(2 * e.orders),
              (long long)r["analytics"]["handled"], (unsigned long long)(2 * e.orders),
              (long long)r["orders"]["cancelled"], (unsigned long long)e.unpaid,
              (long long)r["inventory"]["consumer_dead_lettered"], tty ? "   " : "\n");
  std::fflush(stdout);
}

// Every count the plan predicts has been reached (the run is done or overshoots).
bool reached(std::map<std::string, Report>& r, const shop::plan::Expected& e, bool replayed) {
  const auto n = static_cast<std::int64_t>(e.orders);
  const auto dups = static_cast<std::int64_t>(e.sent_twice);
  bool done = r["orders"]["published_all"] == 1 && r["orders"]["checks_handled"] >= n &&
              r["orders"]["cancelled"] >= static_cast<std::int64_t>(e.unpaid);
  const auto stocked = static_cast<std::int64_t>(e.out_of_stock);
  // Replayed order.created events reach the other groups again, which drop them.
  const auto listener_dups = dups + (replayed ? stocked : 0);
  for (const auto* listener : {"notifications", "analytics"}) {
    done = done && r[listener]["handled"] >= 2 * n && r[listener]["consumer_duplicates"] >= listener_dups;
  }
  auto& inventory = r["inventory"];
  done = done && inventory["consumer_duplicates"] >= dups && inventory["consumer_dead_lettered"] >= stocked;
  return done && inventory["reserved"] >= (replayed ? n : n - stocked);
}

}  // namespace

// Defined in table.cpp: prints the summary, returns true if every count matches.
bool print_table(std::map<std::string, Report>& reports, const shop::plan::Expected& expected,
                 std::int64_t replayed, std::int64_t elapsed_ms);
namespace {

// The first service group whose lag is not zero yet (or that does not exist yet);
// empty when all have committed everything they were given. Once every count is
// reached, zero lag everywhere means nothing is left to deliver: the counts are final,
// and a message delivered twice would already show in them.
std::string group_with_lag(mq::Admin& admin) {
  for (const auto& group : shop::groups::all) {
    try {
      if (admin.describe_group(group).total_lag() != 0) return group;
    } catch (const mq::Error& error) {
      if (error.code() != mq::ErrorCode::not_found) throw;
      return group;
    }
  }
  return {};
}

// Runs the demo in `dir` on options.url; returns the exit status (0: every count
// matched). The Client (and with it the engine's files) is closed when this returns,
// before the caller stops a test server or removes `dir`.
int run(const Options& options, const std::filesystem::path& dir) {
  mq::Client client(options.url);
  if (!client.capabilities().multi_process) {
    throw mq::Error(mq::ErrorCode::invalid_argument,
                    "shop_demo: " + client.url() + " cannot be shared by processes; use embedded:// or a server");
  }
  auto admin = client.admin();
  const auto expected = shop::plan::expected(options.orders);
  const auto stock = static_cast<std::int64_t>(expected.out_of_stock);
  std::printf("shop demo: %llu orders on %s (run dir %s)\n", (unsigned long long)options.orders,
              client.url().c_str(), dir.string().c_str());
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(60) + std::chrono::milliseconds(20 * options.orders);

  Services running(options, dir);
  std::int64_t replayed = 0;
  bool restocked = false, timed_out = false;
  std::string failed, lagging;
  while (!shop::process::interrupted()) {
    auto reports = running.reports();
    print_progress(reports, expected);
    if (failed = running.exited_early(); !failed.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      break;
    }
    if (running.orders_may_start() && reached(reports, expected, restocked)) {
      if (!restocked) {
        // The failures are all dead letters now: "fix" the stock, then replay them.
        std::ofstream(dir / "restocked").put('\n');
        restocked = true;
      } else if (replayed >= stock && (lagging = group_with_lag(admin)).empty()) {
        break;
      }
    }
    // As an operator would: `mqctl dlq replay`, until every dead letter is back (they
    // reach the dead-letter topic asynchronously, so one call may not see them all).
    if (restocked && replayed < stock) replayed += shop::replay_with_mqctl(options.url, shop::groups::inventory, dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the services report every 200 ms
  }
  const bool clean = running.stop();
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("\n");
  if (shop::process::interrupted()) {
    std::printf("interrupted: services stopped\n");
    return 130;
  }
  if (!failed.empty()) std::printf("FAILED: shop_%s exited early\n", failed.c_str());
  if (timed_out) {
    std::printf("FAILED: counts not reached before the deadline%s%s\n", lagging.empty() ? "" : "; lag left in group ",
                lagging.c_str());
  }
  auto reports = running.reports();
  const bool ok = print_table(reports, expected, replayed, elapsed.count());
  return ok && clean && failed.empty() && !timed_out ? 0 : 1;
}

// What the services connect to: a URL with an address as given; an in-process engine
// (embedded, the default, in `dir`; memory); otherwise the engine's test server,
// started into `server` for the run.
std::string resolve_url(const std::string& target, const std::filesystem::path& dir,
                        std::optional<shop::TestServer>& server) {
  const auto engine = shop::engine_to_start(target);
  if (engine.empty() && !target.empty()) return target;
  if (engine.empty() || engine == "embedded") return default_url(dir);
  if (engine == "memory") return "memory://";  // refused by run(): not shared by processes
  server.emplace(engine, dir / "server");
  return server->url();
}

}  // namespace

int main(int argc, char** argv) {
  shop::process::install_interrupt_handlers();
  return shop::guarded("shop_demo", [&] {
    auto options = parse(argc, argv);
    const auto dir = std::filesystem::temp_directory_path() /
                     ("mq-shop-" + std::to_string(getpid()) + "-" + std::to_string(shop::now_ms()));
    std::filesystem::create_directories(dir);
    int status = 1;
    try {
      // Destroyed (the server stopped) on every way out, exceptions included.
      std::optional<shop::TestServer> server;
      options.url = resolve_url(options.target, dir, server);
      status = shop::process::interrupted() ? 130 : run(options, dir);
      if (server && !server->stop() && status == 0) status = 1;
    } catch (...) {
      // Refused before anything ran (bad engine, unreachable URL): nothing to keep.
      std::error_code ignored;
      if (std::filesystem::is_empty(dir, ignored)) std::filesystem::remove(dir, ignored);
      else std::printf("run dir kept: %s\n", dir.string().c_str());
      throw;
    }
    if (options.keep || status != 0) std::printf("run dir kept: %s\n", dir.string().c_str());
    else std::filesystem::remove_all(dir);  // kept on failure, for the reports
    return status;
  });
}
