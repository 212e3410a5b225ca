// The process-wide metric registry behind mq/metrics.hpp.
//
// Hot paths resolve a metric once (counter(), histogram()) and keep the pointer: the
// registry never frees a metric, so pointers stay valid for the life of the process.
// Increments are relaxed atomics. Gauges (lag, depth, connection) are not stored: the
// engines and groups in use register here and are asked at render time.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>


#include "core/engine.hpp"

namespace mq::core::metrics {

struct Counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n = 1) { value.fetch_add(n, std::memory_order_relaxed); }
};

struct Histogram {
  // Prometheus' default buckets, in seconds.
  static constexpr std::array<double, 11> bounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::array<std::atomic<std::uint64_t>, bounds.size()> buckets{};  // count <= bound (not cumulative)
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> sum_nanoseconds{0};
  void observe(std::chrono::nanoseconds duration);
  // The bucket a duration counts in; bounds.size() when above every bound (+Inf only).
  static std::size_t bucket_of(std::chrono::nanoseconds duration);
};

// What a consumer group counts for one topic, resolved once per topic.
struct ConsumedMetrics {
  Counter ok, retry, dead_letter, dropped, duplicate;
  Histogram duration;
};

// One worker's counts of handled messages (outcome ok, and the duration histogram),
// kept in plain integers and added to the shared ConsumedMetrics in bulk: a shared
// atomic add costs a locked instruction per counter per message. Published when the
// target changes, every `publish_every` messages and by flush(), which the worker calls
// before it waits for work and when it ends: the shared counters are exact whenever the
// worker is idle or stopped, and at most `publish_every` messages behind while it is
// busy. Used by one thread only.
class WorkerTally {
 public:
  static constexpr std::uint32_t publish_every = 256;

  WorkerTally() = default;
  WorkerTally(const WorkerTally&) = delete;
  WorkerTally& operator=(const WorkerTally&) = delete;
  ~WorkerTally() { flush(); }

  // A handler call of `target`'s topic and group that took `duration`; `ok`: it acked.
  void handled(ConsumedMetrics* target, std::chrono::nanoseconds duration, bool ok) {
    if (target != target_) {
      flush();
      target_ = target;
    }
    ++buckets_[Histogram::bucket_of(duration)];
    sum_nanoseconds_ += static_cast<std::uint64_t>(duration.count());
    ok_ += ok ? 1 : 0;
    if (++count_ >= publish_every) flush();
  }
  void flush();

 private:
  ConsumedMetrics* target_ = nullptr;
  std::uint32_t count_ = 0;
  std::uint64_t ok_ = 0;
  std::uint64_t sum_nanoseconds_ = 0;
  std::array<std::uint64_t, Histogram::bounds.size() + 1> buckets_{};  // the last: above every bound
};

bool enabled();
Counter* produced(const std::string& topic, bool ok);
ConsumedMetrics* consumed(const std::string& topic, const std::string& group);

// Engines and groups whose gauges render() reports. Registration holds weak references:
// a closed engine simply drops out.
void register_engine(const std::shared_ptr<Engine>& engine);
void register_group(const std::shared_ptr<Engine>& engine, const std::string& group);

}  // namespace mq::core::metrics
