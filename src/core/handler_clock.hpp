// The clock of handler durations (the consume duration histogram), read twice per handled
// message, so its cost is on every message's path when metrics are on.
//
// steady_clock is a vDSO call (about 25 ns here, 4% of a message's CPU on memory://);
// the x86 time-stamp counter is one instruction (about 10 ns). The counter is used only
// when the kernel itself keeps time with it (clocksource "tsc": the kernel checked that it
// is invariant and synchronised across CPUs) and when its rate against steady_clock could
// be measured precisely:
//
// Calibration reads two (counter, steady_clock) pairs about 2 ms apart. Each pair is
// bracketed: counter, steady_clock, counter; a preemption or interrupt between the reads
// widens the bracket, so the tightest of several tries is kept, and the rate is accepted
// only when the two brackets together are under 0.1% of the span between the pairs. A
// preempted pair therefore cannot skew the rate by more than 0.1%; a machine where no
// tight pair can be read keeps steady_clock.
//
// Thread-safety: HandlerClock::process() calibrates once (thread-safe, on first call);
// the returned clock is immutable, so now() and between() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace mq::core::metrics {

// One bracketed read: the counter before and after a steady_clock read.
struct ClockPair {
  std::uint64_t ticks_before = 0;
  std::int64_t steady_nanoseconds = 0;
  std::uint64_t ticks_after = 0;
  std::uint64_t bracket() const { return ticks_after - ticks_before; }
};

// The tightest of `tries` pairs from `read` (ticks_after < ticks_before counts as
// unusable). Pure, for tests.
ClockPair tightest_pair(const std::function<ClockPair()>& read, int tries);

// Nanoseconds per counter tick from two pairs, or nothing when the counter did not advance
// or the brackets are too wide for a 0.1% error. Pure, for tests.
std::optional<double> nanoseconds_per_tick(const ClockPair& first, const ClockPair& last);

class HandlerClock {
 public:
  // The process's clock, calibrated on the first call (about 2 ms when the counter is
  // eligible; immediate otherwise).
  static const HandlerClock& process();

  std::uint64_t now() const {
#if defined(__x86_64__) || defined(__i386__)
    if (nanoseconds_per_tick_) return __rdtsc();
#endif
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }

  std::chrono::nanoseconds between(std::uint64_t start, std::uint64_t end) const {
    if (end <= start) return std::chrono::nanoseconds(0);
    const auto elapsed = end - start;
    if (!nanoseconds_per_tick_) return std::chrono::nanoseconds(static_cast<std::int64_t>(elapsed));
    return std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(elapsed) * *nanoseconds_per_tick_));
  }

  bool uses_time_stamp_counter() const { return nanoseconds_per_tick_.has_value(); }

 private:
  HandlerClock();
  std::optional<double> nanoseconds_per_tick_;  // set: the time-stamp counter is the clock
};

}  // namespace mq::core::metrics
