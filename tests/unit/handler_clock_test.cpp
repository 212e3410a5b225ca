#include "core/handler_clock.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace mq::core::metrics {
namespace {

ClockPair pair(std::uint64_t before, std::int64_t steady, std::uint64_t after) { return ClockPair{before, steady, after}; }

TEST(HandlerClock, RateFromTwoTightPairs) {
  // 3 ticks per nanosecond: 2 ms is 6,000,000 ticks; brackets of 30 ticks.
  const auto rate = nanoseconds_per_tick(pair(1'000, 500, 1'030), pair(6'001'000, 2'000'500, 6'001'030));
  ASSERT_TRUE(rate.has_value());
  EXPECT_NEAR(*rate, 1.0 / 3.0, 1e-9);
}

TEST(HandlerClock, APreemptedPairIsRefusedNotUsed) {
  // The second pair's steady_clock read came 1 ms after its first counter read (a
  // preemption between them): its bracket is half the span, far over 0.1%.
  EXPECT_FALSE(nanoseconds_per_tick(pair(1'000, 500, 1'030), pair(6'001'000, 2'000'500, 9'001'030)).has_value());
  // Just over the limit: brackets totalling 0.11% of the span.
  EXPECT_FALSE(nanoseconds_per_tick(pair(0, 0, 1'650), pair(3'000'000, 1'000'000, 3'001'650)).has_value());
  // Just under it: 0.09%.
  EXPECT_TRUE(nanoseconds_per_tick(pair(0, 0, 1'350), pair(3'000'000, 1'000'000, 3'001'350)).has_value());
}

TEST(HandlerClock, ACounterThatDidNotAdvanceIsRefused) {
  EXPECT_FALSE(nanoseconds_per_tick(pair(5'000, 0, 5'010), pair(5'000, 2'000'000, 5'010)).has_value());
  EXPECT_FALSE(nanoseconds_per_tick(pair(5'000, 0, 4'000), pair(9'000'000, 2'000'000, 9'000'010)).has_value());
  EXPECT_FALSE(nanoseconds_per_tick(pair(5'000, 100, 5'010), pair(9'000'000, 100, 9'000'010)).has_value());
}

TEST(HandlerClock, TheTightestPairIsKept) {
  const std::vector<ClockPair> reads{pair(0, 10, 900), pair(1'000, 1'010, 1'020), pair(2'000, 2'010, 1'500),
                                     pair(3'000, 3'010, 3'400)};
  std::size_t next = 0;
  const ClockPair best = tightest_pair([&] { return reads[next++ % reads.size()]; }, 4);
  EXPECT_EQ(best.ticks_before, 1'000u);  // bracket 20; the one whose counter went back is skipped
  EXPECT_EQ(best.bracket(), 20u);
}

// The process clock, whichever it is, agrees with steady_clock over a sleep.
TEST(HandlerClock, MeasuresWhatSteadyClockMeasures) {
  const HandlerClock& clock = HandlerClock::process();
  RecordProperty("time_stamp_counter", clock.uses_time_stamp_counter() ? "yes" : "no");
  const auto steady_start = std::chrono::steady_clock::now();
  const auto start = clock.now();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto end = clock.now();
  const auto steady_elapsed = std::chrono::steady_clock::now() - steady_start;
  const auto measured = clock.between(start, end);
  // The two steady_clock reads bracket the clock's; a rate is off by at most 0.1%.
  const auto outer = std::chrono::duration_cast<std::chrono::nanoseconds>(steady_elapsed).count();
  const auto inner = std::chrono::nanoseconds(std::chrono::milliseconds(50)).count();
  EXPECT_LE(measured.count(), outer + outer / 1000);
  EXPECT_GE(measured.count(), inner - inner / 1000);
  EXPECT_EQ(clock.between(end, start), std::chrono::nanoseconds(0));
}

}  // namespace
}  // namespace mq::core::metrics
