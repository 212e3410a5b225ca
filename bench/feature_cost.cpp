// mq_bench_features: what the reliability features cost on the hot path, side by side in
// one run on memory:// (issue 5's target: metrics + tracing cost at most 5%).
//
//   mq_bench_features [--messages N] [--rounds R] [--only V]
//
// One pass sends N messages with send_batch(1000) and consumes them with one worker and
// a counting handler (the retries variant: the first delivery of every 100th message
// asks for a retry, backoff 1-5 ms; the pass ends when all are acked). A round runs one
// pass of every variant; the order of the variants rotates from round to round
// (ABCD.., BCD..A, ...) so that neither position nor the
// drift of a shared machine's load favours a variant. Reported per variant: the median
// wall time and process CPU time over the rounds, and the median over rounds of the
// ratio to the baseline pass of the same round (paired: both ran within seconds of each
// other, so the machine's load largely cancels), with the cost in % (1 - ratio). CPU is
// the whole process (producer, poller and worker threads): on a shared machine the wall
// ratio is noisy, the CPU ratio much less so.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
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
  int fail_one_in = 0;   // > 0: the first delivery of every N-th message asks for a retry
};

constexpr Variant variants[] = {
    {"baseline (all off)", false, false, false},
    {"metrics", true, false, false},
    {"tracing", false, true, false},
    {"dedup (in-process)", false, false, true},
    {"metrics + tracing", true, true, false},
    {"metrics + tracing + dedup", true, true, true},
    {"retries (1% fail once)", false, false, false, 100},
};
constexpr std::size_t metrics_and_tracing = 4;  // the variant issue 5's target is about

struct Timing {
  double wall = 0;  // seconds, first send to last handler call
  double cpu = 0;   // process CPU seconds over the same span, all threads
};

int pass_counter = 0;

Timing run_pass(const Variant& variant, std::size_t count) {
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
  options.retry.initial_backoff = std::chrono::milliseconds(1);
  options.retry.max_backoff = std::chrono::milliseconds(5);
  std::size_t first_deliveries = 0;  // the one worker's own count
  auto consumer = client.consumer(options, [&](const mq::Message& message) {
    if (variant.fail_one_in > 0 && message.headers.find(mq::names::attempt_header) == "1" &&
        first_deliveries++ % static_cast<std::size_t>(variant.fail_one_in) == 0) {
      return mq::Outcome::retry("bench: fails once");
    }
    handled.fetch_add(1, std::memory_order_relaxed);
    return mq::Outcome::ack();
  });
  auto producer = client.producer();
  const std::clock_t cpu_start = std::clock();
  const auto start = SteadyClock::now();
  {
    std::optional<mq::trace::Scope> scope;
    if (variant.tracing) scope.emplace(mq::trace::Context::new_trace());
    for (auto& batch : batches) producer.send_batch(std::move(batch));
  }
  while (handled.load(std::memory_order_relaxed) < count) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const Timing timing{Seconds(SteadyClock::now() - start).count(),
                      static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC};
  consumer.stop(std::chrono::seconds(30));
  if (consumer.stats().acked != count) throw mq::Error(mq::ErrorCode::internal, "wrong count acked");
  if (variant.fail_one_in > 0 && consumer.stats().retried != (count + variant.fail_one_in - 1) / variant.fail_one_in) {
    throw mq::Error(mq::ErrorCode::internal, "wrong count retried");
  }
  return timing;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  std::size_t count = 200'000;
  int rounds = 9;
  int only = -1;  // --only V: run variant V alone (for profiling it)
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--messages") count = std::stoul(argv[i + 1]);
    else if (flag == "--rounds" || flag == "--repeat") rounds = std::max(1, std::stoi(argv[i + 1]));
    else if (flag == "--only") only = std::stoi(argv[i + 1]);
    else throw std::invalid_argument("unknown option " + flag);
  }
  constexpr std::size_t n_variants = std::size(variants);
  std::printf("mq_bench_features: memory://, %zu messages of 100 bytes, send_batch(1000), 1 worker, %d rounds of "
              "%zu variants (order rotated per round)\n",
              count, rounds, n_variants);
  std::vector<std::vector<double>> wall(n_variants), cpu(n_variants), wall_ratio(n_variants), cpu_ratio(n_variants);
  if (only >= 0) {
    for (int round = 0; round < rounds; ++round) run_pass(variants[static_cast<std::size_t>(only)], count);
    return 0;
  }
  for (const auto& variant : variants) run_pass(variant, count / 10);  // warm-up: allocator, threads, registry
  for (int round = 0; round < rounds; ++round) {
    std::vector<Timing> timings(n_variants);
    for (std::size_t k = 0; k < n_variants; ++k) {
      const std::size_t v = (k + static_cast<std::size_t>(round)) % n_variants;
      timings[v] = run_pass(variants[v], count);
    }
    for (std::size_t v = 0; v < n_variants; ++v) {
      wall[v].push_back(timings[v].wall);
      cpu[v].push_back(timings[v].cpu);
      wall_ratio[v].push_back(timings[0].wall / timings[v].wall);
      cpu_ratio[v].push_back(timings[0].cpu / timings[v].cpu);
    }
  }
  std::printf("%-28s %12s %9s %11s %13s %7s %12s %7s\n", "variant", "msgs/s", "us/msg", "CPU us/msg", "throughput x",
              "cost", "CPU x", "cost");
  for (std::size_t v = 0; v < n_variants; ++v) {
    const double seconds = median(wall[v]);
    const double throughput = median(wall_ratio[v]), cpu_x = median(cpu_ratio[v]);
    std::printf("%-28s %12.0f %9.3f %11.3f %13.3f %6.1f%% %12.3f %6.1f%%\n", variants[v].name,
                static_cast<double>(count) / seconds, seconds * 1e6 / static_cast<double>(count),
                median(cpu[v]) * 1e6 / static_cast<double>(count), throughput, (1 - throughput) * 100, cpu_x,
                (1 - cpu_x) * 100);
  }
  const double cost = 1.0 - median(wall_ratio[metrics_and_tracing]);
  const double cpu_cost = 1.0 - median(cpu_ratio[metrics_and_tracing]);
  std::printf("metrics + tracing: throughput cost %.1f%%, CPU cost %.1f%% (paired medians; target <= 5%%): %s\n",
              cost * 100, cpu_cost * 100, cost <= 0.05 ? "met" : "missed");
  std::printf("(\"throughput x\" = baseline time / variant time in the same round, median over rounds; "
              "\"CPU x\" likewise for process CPU time)\n");
  mq::metrics::set_enabled(true);
  return 0;
} catch (const std::exception& error) {
  std::cerr << "mq_bench_features: " << error.what() << '\n';
  return 1;
}
