#include "core/handler_clock.hpp"

#include <fstream>
#include <limits>
#include <string>

namespace mq::core::metrics {
namespace {

// Accept a rate only if the two brackets together are under this share of the span:
// that bounds the rate's error whatever happened between a pair's reads.
constexpr double max_bracket_share = 0.001;
constexpr int tries_per_pair = 32;
constexpr auto calibration_span = std::chrono::milliseconds(2);
constexpr int calibration_attempts = 3;

std::int64_t steady_nanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool kernel_keeps_time_with_the_counter() {
  std::ifstream file("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string clocksource;
  return static_cast<bool>(file >> clocksource) && clocksource == "tsc";
}

#if defined(__x86_64__) || defined(__i386__)
ClockPair read_pair() {
  ClockPair pair;
  pair.ticks_before = __rdtsc();
  pair.steady_nanoseconds = steady_nanoseconds();
  pair.ticks_after = __rdtsc();
  return pair;
}

std::optional<double> calibrate() {
  if (!kernel_keeps_time_with_the_counter()) return std::nullopt;
  for (int attempt = 0; attempt < calibration_attempts; ++attempt) {
    const ClockPair first = tightest_pair(read_pair, tries_per_pair);
    const auto until = first.steady_nanoseconds + std::chrono::nanoseconds(calibration_span).count();
    while (steady_nanoseconds() < until) {
      // Only the two ends count: being preempted in between changes nothing.
    }
    if (auto rate = nanoseconds_per_tick(first, tightest_pair(read_pair, tries_per_pair))) return rate;
  }
  return std::nullopt;
}
#else
std::optional<double> calibrate() { return std::nullopt; }
#endif

}  // namespace

ClockPair tightest_pair(const std::function<ClockPair()>& read, int tries) {
  ClockPair best;
  std::uint64_t best_bracket = std::numeric_limits<std::uint64_t>::max();
  for (int i = 0; i < tries; ++i) {
    const ClockPair pair = read();
    if (pair.ticks_after < pair.ticks_before) continue;
    if (pair.bracket() < best_bracket) {
      best = pair;
      best_bracket = pair.bracket();
    }
  }
  return best;
}

std::optional<double> nanoseconds_per_tick(const ClockPair& first, const ClockPair& last) {
  if (first.ticks_after < first.ticks_before || last.ticks_after < last.ticks_before) return std::nullopt;
  if (last.ticks_before <= first.ticks_after || last.steady_nanoseconds <= first.steady_nanoseconds) {
    return std::nullopt;
  }
  // Each pair's steady_clock read lies somewhere within its bracket: measuring from the
  // brackets' midpoints, the span in ticks is off by at most half of each bracket.
  const double first_middle = static_cast<double>(first.ticks_before) + static_cast<double>(first.bracket()) / 2;
  const double last_middle = static_cast<double>(last.ticks_before) + static_cast<double>(last.bracket()) / 2;
  const double span_ticks = last_middle - first_middle;
  if (static_cast<double>(first.bracket() + last.bracket()) > max_bracket_share * span_ticks) return std::nullopt;
  return static_cast<double>(last.steady_nanoseconds - first.steady_nanoseconds) / span_ticks;
}

HandlerClock::HandlerClock() : nanoseconds_per_tick_(calibrate()) {}

const HandlerClock& HandlerClock::process() {
  static const HandlerClock clock;
  return clock;
}

}  // namespace mq::core::metrics
