// mq_bench_features: what the reliability features cost on the hot path, side by side in
// one run on memory:// (issue 5's target: metrics + tracing cost at most 5%).
//
//   mq_bench_features [--messages N] [--repeat R]
//
// Each pass sends N messages with send_batch(1000) and consumes them with one worker and
// a counting handler, once per variant; variants are interleaved within a pass so that
// machine noise falls on all of them alike. Figures: median over R passes of the time
// from the first send to the last handler call, and the ratio to the baseline.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <mq/metrics.hpp>
#include <mq/mq.hpp>

namespace {

using Seconds = std::chrono::duration<double>;
using SteadyClock = std::chrono::steady_clock;

struct Variant {
  const char* name;
  bool metrics = false;
  bool tracing = false;  // sends inside a trace scope: every message carries traceparent
  bool dedup = false;    // in-process dedup store (memory:// has no store of its own)
};

constexpr Variant variants[] = {
    {"baseline (metrics off)", false, false, false},
    {"metrics", true, false, false},
    {"metrics + tracing", true, true, false},
    {"metrics + tracing + dedup", true, true, true},
};

int pass_counter = 0;

double run_pass(const Variant& variant, std::size_t count) {
  mq::metrics::set_enabled(variant.metrics);
  mq::Client client("memory://features-" + std::to_string(++pass_counter));
  const std::string topic = "bench.features";
  client.admin().create_topic(topic, mq::TopicOptions{.partitions = 4});
  const std::string value(100, 'x');
  std::vector<std::vector<mq::Message>> batches;
  for (std::size_t sent = 0; sent < count; sent += 1000) {
    auto& batch = batches.emplace_back();
    for (std::size_t i = 0; i < std::min<std::size_t>(1000, count - sent); ++i) batch.emplace_back(topic, value);
  }
  std::atomic<std::size_t> handled{0};
  mq::ConsumerOptions options = client.config().consumer;
  options.group = "bench.features.group";
  options.topics = {topic};
  options.workers = 1;
  options.start = mq::StartPosition::earliest;
  options.poll_interval = std::chrono::milliseconds(10);
  options.dedup.enabled = variant.dedup;
  auto consumer = client.consumer(options, [&handled](const mq::Message&) {
    handled.fetch_add(1, std::memory_order_relaxed);
    return mq::Outcome::ack();
  });
  auto producer = client.producer();
  const auto start = SteadyClock::now();
  {
    std::optional<mq::trace::Scope> scope;
    if (variant.tracing) scope.emplace(mq::trace::Context::new_trace());
    for (auto& batch : batches) producer.send_batch(std::move(batch));
  }
  while (handled.load(std::memory_order_relaxed) < count) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double seconds = Seconds(SteadyClock::now() - start).count();
  consumer.stop(std::chrono::seconds(30));
  if (consumer.stats().acked != count) throw mq::Error(mq::ErrorCode::internal, "wrong count acked");
  return seconds;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  std::size_t count = 200'000;
  int repeat = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--messages") count = std::stoul(argv[i + 1]);
    else if (flag == "--repeat") repeat = std::stoi(argv[i + 1]);
    else throw std::invalid_argument("unknown option " + flag);
  }
  std::printf("mq_bench_features: memory://, %zu messages of 100 bytes, send_batch(1000), 1 worker, %d passes\n",
              count, repeat);
  std::vector<std::vector<double>> times(std::size(variants));
  run_pass(variants[0], count / 10);  // warm-up: allocator, threads
  for (int pass = 0; pass < repeat; ++pass) {
    for (std::size_t v = 0; v < std::size(variants); ++v) times[v].push_back(run_pass(variants[v], count));
  }
  const double baseline = median(times[0]);
  for (std::size_t v = 0; v < std::size(variants); ++v) {
    const double seconds = median(times[v]);
    std::printf("%-28s %10.0f msgs/s  %7.3f us/msg  %6.3f x baseline throughput\n", variants[v].name,
                static_cast<double>(count) / seconds, seconds * 1e6 / static_cast<double>(count), baseline / seconds);
  }
  mq::metrics::set_enabled(true);
  return 0;
} catch (const std::exception& error) {
  std::cerr << "mq_bench_features: " << error.what() << '\n';
  return 1;
}
