// shop_demo: the driver. Starts the shop services as separate processes on one engine,
// lets the order service publish N orders, restocks and replays the inventory's dead
// letters (Admin::replay_dead_letters, the API `mqctl dlq replay` wraps), waits until
// every count is reached, stops the services with SIGTERM and prints the table.
//
//   shop_demo [--orders N] [--url URL] [--payment-timeout-ms MS] [--keep]
//
// Default URL: embedded:// in a fresh temp dir. Exits 0 only when every count matches
// the plan (plan.hpp): no loss, no double processing.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "plan.hpp"
#include "service.hpp"

extern char** environ;

namespace {

using Report = std::map<std::string, std::int64_t>;
const std::vector<std::string> services = {"inventory", "notifications", "analytics", "orders"};

struct Options {
  std::uint64_t orders = 3000;
  std::string url;
  std::string payment_timeout_ms = "300";
  bool keep = false;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--orders" && has_value) options.orders = std::stoull(argv[++i]);
    else if (arg == "--url" && has_value) options.url = argv[++i];
    else if (arg == "--payment-timeout-ms" && has_value) options.payment_timeout_ms = argv[++i];
    else if (arg == "--keep") options.keep = true;
    else {
      std::cerr << "usage: shop_demo [--orders N] [--url URL] [--payment-timeout-ms MS] [--keep]\n";
      std::exit(2);
    }
  }
  return options;
}

// The services run as separate processes; each writes DIR/<name>.report.
class Services {
 public:
  Services(const Options& options, const std::filesystem::path& dir) : dir_(dir) {
    const auto bin = std::filesystem::read_symlink("/proc/self/exe").parent_path();
    for (const auto& name : services) {
      std::vector<std::string> args = {(bin / ("shop_" + name)).string(), "--url", options.url, "--dir", dir.string(),
                                       "--orders", std::to_string(options.orders), "--payment-timeout-ms",
                                       options.payment_timeout_ms};
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      pid_t pid = 0;
      if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
        throw std::runtime_error("cannot start " + args[0]);
      }
      pids_[name] = pid;
    }
  }
  ~Services() { stop(); }

  std::map<std::string, Report> reports() const {
    std::map<std::string, Report> all;
    for (const auto& name : services) all[name] = shop::read_report(dir_ / (name + ".report"));
    return all;
  }

  // A service that exited before stop() is a failure; returns its name.
  std::string exited_early() {
    for (auto& [name, pid] : pids_) {
      int status = 0;
      if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
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
      int status = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          kill(pid, SIGKILL);
          waitpid(pid, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::cerr << "shop_" << name << " did not stop cleanly\n";
        clean = false;
      }
      pid = 0;
    }
    return clean;
  }

 private:
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

// Runs the demo in `dir`; true when every count matched. The Client (and with it the
// engine's files) is closed when this returns, before the caller removes `dir`.
bool run(Options options, const std::filesystem::path& dir) {
  if (options.url.empty()) options.url = default_url(dir);
  mq::Client client(options.url);
  if (!client.capabilities().multi_process) {
    throw mq::Error(mq::ErrorCode::invalid_argument,
                    "shop_demo: " + client.url() + " cannot be shared by processes; use embedded:// or a server");
  }
  const auto expected = shop::plan::expected(options.orders);
  std::printf("shop demo: %llu orders on %s (run dir %s)\n", (unsigned long long)options.orders,
              client.url().c_str(), dir.string().c_str());
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(60) + std::chrono::milliseconds(20 * options.orders);

  Services running(options, dir);
  std::int64_t replayed = 0;
  bool restocked = false, timed_out = false;
  std::string failed;
  for (;;) {
    auto reports = running.reports();
    print_progress(reports, expected);
    if (failed = running.exited_early(); !failed.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      break;
    }
    if (reached(reports, expected, restocked)) {
      if (restocked) break;
      // The failures are all dead letters now: "fix" the stock, then replay them.
      std::ofstream(dir / "restocked").put('\n');
      restocked = true;
    }
    if (restocked && replayed < static_cast<std::int64_t>(expected.out_of_stock)) {
      replayed += static_cast<std::int64_t>(
          client.admin().replay_dead_letters("inventory.stock.group", mq::DeadLetterSelection::everything()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // A quiet period: anything delivered twice would show up in the counts by now.
  if (failed.empty() && !timed_out) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const bool clean = running.stop();
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("\n");
  if (!failed.empty()) std::printf("FAILED: shop_%s exited early\n", failed.c_str());
  if (timed_out) std::printf("FAILED: counts not reached before the deadline\n");
  auto reports = running.reports();
  const bool ok = print_table(reports, expected, replayed, elapsed.count());
  return ok && clean && failed.empty() && !timed_out;
}

int main(int argc, char** argv) {
  return shop::guarded("shop_demo", [&] {
    const auto options = parse(argc, argv);
    const auto dir = std::filesystem::temp_directory_path() /
                     ("mq-shop-" + std::to_string(getpid()) + "-" + std::to_string(shop::now_ms()));
    std::filesystem::create_directories(dir);
    const bool ok = run(options, dir);
    if (options.keep || !ok) std::printf("run dir kept: %s\n", dir.string().c_str());
    else std::filesystem::remove_all(dir);  // kept on failure, for the reports
    return ok ? 0 : 1;
  });
}
