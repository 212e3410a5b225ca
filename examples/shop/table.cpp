// The demo's summary table: every count next to what the plan predicts.
#include <cstdio>

#include "plan.hpp"
#include "service.hpp"

using Report = std::map<std::string, std::int64_t>;

namespace {

struct Table {
  bool ok = true;
  void row(const char* what, std::int64_t actual, std::int64_t expected) {
    const bool match = actual == expected;
    ok = ok && match;
    std::printf("  %-52s %10lld %10lld  %s\n", what, (long long)actual, (long long)expected, match ? "ok" : "MISMATCH");
  }
  static void info(const char* what, std::int64_t value, const char* unit) {
    std::printf("  %-52s %10lld %10s\n", what, (long long)value, unit);
  }
};

}  // namespace

bool print_table(std::map<std::string, Report>& r, const shop::plan::Expected& e, std::int64_t replayed,
                 std::int64_t elapsed_ms) {
  const auto n = static_cast<std::int64_t>(e.orders);
  const auto unpaid = static_cast<std::int64_t>(e.unpaid);
  const auto stock = static_cast<std::int64_t>(e.out_of_stock);
  const auto dups = static_cast<std::int64_t>(e.sent_twice);
  Table t;
  std::printf("  %-52s %10s %10s\n", "", "actual", "expected");
  auto& orders = r["orders"];
  t.row("produced order.created", orders["created"], n);
  t.row("produced order.created again, same message id", orders["created_resent"], dups);
  t.row("produced order.paid", orders["paid"], n - unpaid);
  t.row("payment checks scheduled (send_after)", orders["checks_scheduled"], n);
  t.row("payment checks handled", orders["checks_handled"], n);
  t.row("delayed cancellations (order.cancelled)", orders["cancelled"], unpaid);
  auto& inventory = r["inventory"];
  t.row("inventory: orders reserved", inventory["reserved"], n);
  t.row("inventory: duplicates dropped", inventory["consumer_duplicates"], dups);
  t.row("inventory: retried (out of stock)", inventory["consumer_retried"], 2 * stock);
  t.row("inventory: dead-lettered", inventory["consumer_dead_lettered"], stock);
  t.row("inventory: replayed (mqctl dlq replay)", replayed, stock);
  t.row("inventory: reserved after replay", inventory["reserved_after_restock"], stock);
  for (const auto* name : {"notifications", "analytics"}) {
    auto& listener = r[name];
    const std::string prefix = std::string(name) + ": ";
    t.row((prefix + "consumed (created+paid+cancelled)").c_str(), listener["handled"], 2 * n);
    t.row((prefix + "order.cancelled consumed").c_str(), listener["cancelled"], unpaid);
    // The replayed order.created events reach every group again (same id): the groups
    // that had processed them drop them too.
    t.row((prefix + "duplicates dropped (re-sent + replayed)").c_str(), listener["consumer_duplicates"], dups + stock);
  }
  std::int64_t twice = 0, dropped = 0;
  for (auto& [name, report] : r) {
    twice += report["processed_twice"];
    dropped += report["consumer_dropped"];
  }
  t.row("processed twice (all services)", twice, 0);
  t.row("dropped after retries (all services)", dropped, 0);
  for (const auto* name : {"notifications", "analytics"}) {
    const std::string label = std::string(name) + ": order.created end-to-end latency ";
    Table::info((label + "p50").c_str(), r[name]["latency_ms_p50"], "ms");
    Table::info((label + "p99").c_str(), r[name]["latency_ms_p99"], "ms");
  }
  Table::info("wall time", elapsed_ms, "ms");
  std::printf("%s\n", t.ok ? "ok: every count matches" : "FAILED: a count is off");
  return t.ok;
}
