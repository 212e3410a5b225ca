// mq_bench: throughput of an engine (memory:// or embedded://) through the public API,
// and the consumer runtime's cost per message.
//
//   mq_bench [--engine memory|embedded] [--messages N] [--sync-messages N] [--repeat R]
//            [--workers 1,2,4] [--async 0|1] [--overhead 0|1]
//
// Every line reports wall-clock msgs/s and µs/msg and the process CPU time per message
// (std::clock: all threads). On a shared machine the CPU figure is the steadier one.
//
// Consumer runtime overhead: in each pass the same filled topic is read twice more, by
// two new groups, in alternating order: once through the engine's own Subscription
// (poll, then ack each record, on one thread: the least any consumer must do) and once
// through a Consumer with 1 worker and a counting handler. The difference per message
// is what the runtime adds (dispatch to a worker, attempt header, bookkeeping). The raw
// loop uses core's internal engine interface (src/core/engine.hpp), the only part of
// this program that is not public API.
//
// embedded:// runs in a fresh directory under $TMPDIR (or /tmp) per pass, removed at the
// end, with the development defaults (fsync every 100 ms).
//
// A plain timed program rather than Google Benchmark: each measurement is one pass
// over a million messages whose set-up (a filled topic) is as large as the pass itself,
// which fits Google Benchmark's iteration model poorly. Each figure is the median of R
// passes; every pass uses a fresh memory://NAME (or embedded dir) so that earlier
// passes' data is freed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <mq/mq.hpp>

#include "core/engine.hpp"

namespace {

using Seconds = std::chrono::duration<double>;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t value_bytes = 100;
constexpr std::size_t batch_size = 1000;
constexpr const char* topic = "bench.events";

struct Settings {
  std::size_t messages = 1'000'000;
  std::size_t sync_messages = 100'000;  // sync send waits for each message: fewer
  bool async = true;     // --async 0 skips send_async
  bool overhead = true;  // --overhead 0 skips the raw-loop comparison
  int repeat = 3;
  std::vector<int> workers = {1, 2, 4};
  std::string engine = "memory";
};

int pass_counter = 0;

// Where embedded passes keep their data; removed when the program ends.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    path = std::filesystem::path(base && *base ? base : "/tmp") /
           ("mq-bench-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

std::string fresh_url(const Settings& settings, const ScratchDir& scratch) {
  const auto name = "bench-" + std::to_string(++pass_counter);
  if (settings.engine == "embedded") return "embedded://" + (scratch.path / name).string();
  return "memory://" + name;
}

// Batches of messages built before the clock starts: the figures are mq's cost, not the
// cost of building std::strings in this program.
std::vector<std::vector<mq::Message>> make_batches(std::size_t count) {
  const std::string value(value_bytes, 'x');
  std::vector<std::vector<mq::Message>> batches;
  for (std::size_t sent = 0; sent < count; sent += batch_size) {
    auto& batch = batches.emplace_back();
    const auto size = std::min(batch_size, count - sent);
    batch.reserve(size);
    for (std::size_t i = 0; i < size; ++i) batch.emplace_back(topic, value);
  }
  return batches;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Timing {
  double wall = 0;  // seconds
  double cpu = 0;   // process CPU seconds, all threads (poller, workers, this one)
};

// Times `work` in wall and process CPU seconds.
template <typename Work>
Timing timed(Work&& work) {
  const std::clock_t cpu_start = std::clock();
  const auto start = SteadyClock::now();
  work();
  return Timing{Seconds(SteadyClock::now() - start).count(),
                static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC};
}

// Fills `producer`'s topic with `count` messages via send_batch.
Timing produce_batches(mq::Producer& producer, std::size_t count) {
  auto batches = make_batches(count);
  return timed([&] {
    for (auto& batch : batches) producer.send_batch(std::move(batch));
  });
}

Timing produce_async(mq::Producer& producer, std::size_t count) {
  auto batches = make_batches(count);
  return timed([&] {
    for (auto& batch : batches) {
      for (auto& message : batch) producer.send_async(std::move(message));
    }
    if (!producer.flush(std::chrono::minutes(5))) throw mq::Error(mq::ErrorCode::timeout, "flush took over 5 minutes");
  });
}

// Producer::send, one message at a time, each waiting for its receipt.
Timing produce_sync(mq::Producer& producer, std::size_t count) {
  auto batches = make_batches(count);
  return timed([&] {
    for (auto& batch : batches) {
      for (auto& message : batch) producer.send(std::move(message));
    }
  });
}

// The floor for consuming: the engine's Subscription polled and acked on this thread,
// with the runtime's default fetch size (max_in_flight), from a fresh engine instance
// on the same memory://NAME (or embedded directory).
Timing consume_raw(const std::string& url, std::size_t count, const std::string& group) {
  const auto config = mq::Config::defaults("development");
  auto engine = mq::core::open_engine(url, config);
  const std::clock_t cpu_start = std::clock();
  const auto start = SteadyClock::now();
  auto subscription = engine->subscribe(mq::core::SubscriptionSpec{group, {topic}, mq::StartPosition::earliest});
  const auto fetch = static_cast<std::size_t>(config.consumer.max_in_flight);
  std::size_t handled = 0;
  std::atomic<std::size_t> counted{0};  // the same per-message work as the handler
  while (handled < count) {
    for (const auto& record : subscription->poll(fetch, std::chrono::milliseconds(10))) {
      counted.fetch_add(1, std::memory_order_relaxed);
      subscription->ack(record);
      ++handled;
    }
  }
  const Timing timing{Seconds(SteadyClock::now() - start).count(),
                      static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC};
  subscription->close();
  engine->close();
  if (counted.load() != count) throw mq::Error(mq::ErrorCode::internal, "raw loop counted a wrong number");
  return timing;
}

// Consumes `count` messages already stored in `client`'s topic with a handler that only
// counts; measures from the consumer's start to the last handler call.
Timing consume(mq::Client& client, std::size_t count, int workers, const std::string& group) {
  std::atomic<std::size_t> handled{0};
  mq::ConsumerOptions options;
  options.group = group;
  options.topics = {topic};
  options.workers = workers;
  options.start = mq::StartPosition::earliest;
  options.poll_interval = std::chrono::milliseconds(10);
  const auto start = SteadyClock::now();
  const std::clock_t cpu_start = std::clock();
  auto consumer = client.consumer(options, [&handled](const mq::Message&) {
    handled.fetch_add(1, std::memory_order_relaxed);
    return mq::Outcome::ack();
  });
  // Polling keeps the handler free of any signalling cost; 1 ms granularity is 0.1% of
  // a pass of ~1 s, and rarer wake-ups keep this thread out of the CPU figure.
  while (handled.load(std::memory_order_relaxed) < count) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const Timing timing{Seconds(SteadyClock::now() - start).count(),
                      static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC};
  consumer.stop(std::chrono::seconds(30));
  if (consumer.stats().acked != count) throw mq::Error(mq::ErrorCode::internal, "consumer acked a wrong count");
  return timing;
}

// One line per measurement: wall msgs/s and µs/msg, and process CPU µs/msg (all
// threads), medians over the passes.
void report(const std::string& name, std::size_t count, const std::vector<Timing>& timings) {
  std::vector<double> wall, cpu;
  for (const auto& timing : timings) {
    wall.push_back(timing.wall);
    cpu.push_back(timing.cpu);
  }
  const double s = median(wall);
  const double per_message = 1e6 / static_cast<double>(count);
  std::printf("%-36s %10.0f msgs/s %8.3f us/msg %8.3f CPU us/msg  (median of %zu, %zu msgs)\n", name.c_str(),
              static_cast<double>(count) / s, s * per_message, median(cpu) * per_message, timings.size(), count);
}

Settings parse(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--messages") {
      settings.messages = std::stoul(value);
    } else if (flag == "--sync-messages") {
      settings.sync_messages = std::stoul(value);
    } else if (flag == "--async") {
      settings.async = value != "0";
    } else if (flag == "--overhead") {
      settings.overhead = value != "0";
    } else if (flag == "--repeat") {
      settings.repeat = std::max(1, std::stoi(value));
    } else if (flag == "--engine") {
      if (value != "memory" && value != "embedded") throw std::invalid_argument("--engine: memory or embedded");
      settings.engine = value;
    } else if (flag == "--workers") {
      settings.workers.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) settings.workers.push_back(std::stoi(item));
    } else {
      throw std::invalid_argument("unknown option " + flag);
    }
  }
  if (argc % 2 == 0) throw std::invalid_argument("options take a value");
  return settings;
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings settings = parse(argc, argv);
  const auto n = settings.messages;
  const ScratchDir scratch;
  std::printf("mq_bench: %s://, %zu messages of %zu bytes, batches of %zu, %d passes each\n", settings.engine.c_str(), n, value_bytes,
              batch_size, settings.repeat);

  std::vector<Timing> batch_times, async_times, sync_times, raw_times, runtime_times;
  std::vector<std::vector<Timing>> consume_times(settings.workers.size());
  // Runtime overhead: per pass, the runtime's minus the raw loop's time on the same data.
  std::vector<double> overhead_wall, overhead_cpu;
  for (int pass = 0; pass < settings.repeat; ++pass) {
    {
      const auto url = fresh_url(settings, scratch);
      mq::Client client(url);
      auto producer = client.producer();
      batch_times.push_back(produce_batches(producer, n));
      // The same filled topic serves every consumer measurement: one new group each.
      for (std::size_t w = 0; w < settings.workers.size(); ++w) {
        const auto group = "bench.w" + std::to_string(settings.workers[w]) + ".group";
        consume_times[w].push_back(consume(client, n, settings.workers[w], group));
      }
      if (settings.overhead) {
        // Raw loop and runtime back to back, in alternating order so that neither
        // always runs first (warmer caches, a quieter machine).
        Timing raw, runtime;
        for (int turn = 0; turn < 2; ++turn) {
          if ((turn + pass) % 2 == 0) raw = consume_raw(url, n, "bench.raw.group");
          else runtime = consume(client, n, 1, "bench.runtime.group");
        }
        raw_times.push_back(raw);
        runtime_times.push_back(runtime);
        overhead_wall.push_back(runtime.wall - raw.wall);
        overhead_cpu.push_back(runtime.cpu - raw.cpu);
      }
    }
    if (settings.async) {
      mq::Client client(fresh_url(settings, scratch));
      // send_async never blocks: past max_buffered_bytes it throws. Room for the whole
      // run measures mq's pipeline rather than this program's back-off.
      mq::ProducerOptions options = client.config().producer;
      options.max_buffered_bytes = std::size_t{1} << 30;
      auto producer = client.producer(options);
      async_times.push_back(produce_async(producer, n));
    }
    if (settings.sync_messages > 0) {
      mq::Client client(fresh_url(settings, scratch));
      auto producer = client.producer();
      sync_times.push_back(produce_sync(producer, settings.sync_messages));
    }
  }

  report("produce send_batch(1000)", n, batch_times);
  if (!async_times.empty()) report("produce send_async + flush", n, async_times);
  if (!sync_times.empty()) report("produce send (sync, one by one)", settings.sync_messages, sync_times);
  for (std::size_t w = 0; w < settings.workers.size(); ++w) {
    report("consume, " + std::to_string(settings.workers[w]) + " worker(s)", n, consume_times[w]);
  }
  if (settings.overhead) {
    const double per_message = 1e6 / static_cast<double>(n);
    report("raw Subscription poll+ack loop", n, raw_times);
    report("Consumer, 1 worker (same passes)", n, runtime_times);
    std::printf("consumer runtime overhead (Consumer - raw loop, median of per-pass differences):\n"
                "  wall %.3f us/msg, CPU %.3f us/msg  (target <= 1 us/msg)\n",
                median(overhead_wall) * per_message, median(overhead_cpu) * per_message);
  }
  return 0;
} catch (const std::exception& error) {
  std::cerr << "mq_bench: " << error.what() << '\n';
  return 1;
}
