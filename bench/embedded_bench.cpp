// embedded_bench: the embedded engine against the raw disk and Redis, in one run
// (issue 4 "Benchmark"; bench/embedded.sh runs it and measures dd first).
//
//   embedded_bench --dir DIR --dd BYTES_PER_S [--redis URL] [--messages N]
//                  [--producers P] [--always-seconds S] [--latency K] [--fsync-appends C]
//                  [--max-in-flight W]
//                  [--passes raw,redis,never,interval,always,consume,consume-batch,latency]   (default: all)
//
// All on DIR's file system, 100-byte values:
//   raw fdatasync   C appends of 4 KiB, each followed by fdatasync (one file)
//   redis XADD      N XADDs pipelined in batches of 1,000 (hiredis), when --redis is given
//   mq never        send_batch(1,000) × N/1,000, fsync never (after a sync(2) of earlier
//                   passes' dirty pages, outside the clock); then the same with a final
//                   sync of the data dir (the bytes on disk, as dd measures them)
//   mq interval     the same with fsync interval (100 ms)
//   mq always       P threads, each with its own Producer, send() one message at a time
//                   for S seconds with fsync always (acknowledged after fdatasync)
//   consume         one consumer (1 worker, counting handler, ConsumerOptions' default
//                   max_in_flight unless --max-in-flight) over the N messages
//   consume-batch   the same with a batch consumer (Client::batch_consumer, up to 1,000
//                   messages per handler call: the counterpart of send_batch(1,000))
//   latency         a producer process (this program, `latency-producer`) sends K
//                   messages one at a time, 1 ms apart; this process consumes them from the
//                   same data dir: send time to handler call, CLOCK_MONOTONIC in the value
// Prints a Markdown table with the ratios, the process CPU per message (getrusage: user +
// system of every thread, the engine included) and whether each target of the issue is met.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mq/mq.hpp>

#ifdef MQ_BENCH_HIREDIS
#include <hiredis/hiredis.h>
#endif

extern char** environ;

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t value_bytes = 100;
constexpr std::size_t batch_size = 1000;

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// CPU time of this whole process (user + system, every thread): the engine runs in-process,
// so this is the client's CPU; per message, it is what load on the shared cores does not
// distort much (unlike wall-clock rates).
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

struct Settings {
  std::string dir;
  double dd_bytes_per_second = 0;
  std::string redis_url;
  std::size_t messages = 1'000'000;
  int producers = 64;
  double always_seconds = 5;
  std::size_t latency_messages = 2000;
  std::size_t fsync_appends = 2000;
  int max_in_flight = 0;  // the consumer's window; 0: the library's default
  std::string passes = "all";  // or a comma list of: raw,redis,never,interval,always,consume,consume-batch,latency
  bool runs(const char* pass) const {
    return passes == "all" || ("," + passes + ",").find(std::string(",") + pass + ",") != std::string::npos;
  }
};

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what);
}

// ---- raw disk ---------------------------------------------------------------------

double raw_fdatasync_rate(const std::string& dir, std::size_t appends) {
  const std::string path = dir + "/raw-fdatasync";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("open " + path + ": " + std::strerror(errno));
  const std::string block(4096, 'x');
  const auto start = SteadyClock::now();
  for (std::size_t i = 0; i < appends; ++i) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) fail("write " + path);
    if (::fdatasync(fd) != 0) fail("fdatasync " + path);
  }
  const double seconds = seconds_since(start);
  ::close(fd);
  fs::remove(path);
  return static_cast<double>(appends) / seconds;
}

// Flushes every file under `dir` to disk (what dd's conv=fdatasync does for its file).
void sync_tree(const std::string& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // removed meanwhile
    ::fdatasync(fd);
    ::close(fd);
  }
}

std::uint64_t log_bytes(const std::string& dir) {
  std::uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".log") total += entry.file_size();
  }
  return total;
}

// ---- redis ------------------------------------------------------------------------

double redis_xadd_rate(const std::string& url, std::size_t count) {
#ifdef MQ_BENCH_HIREDIS
  const auto colon = url.rfind(':');
  const int port = std::stoi(url.substr(colon + 1));
  redisContext* context = redisConnect("127.0.0.1", port);
  if (!context || context->err) fail("connect to " + url);
  const std::string value(value_bytes, 'x');
  const auto start = SteadyClock::now();
  for (std::size_t sent = 0; sent < count; sent += batch_size) {
    const auto n = std::min(batch_size, count - sent);
    for (std::size_t i = 0; i < n; ++i) {
      redisAppendCommand(context, "XADD bench.xadd * m %b", value.data(), value.size());
    }
    for (std::size_t i = 0; i < n; ++i) {
      void* reply = nullptr;
      if (redisGetReply(context, &reply) != REDIS_OK) fail("XADD reply");
      if (static_cast<redisReply*>(reply)->type == REDIS_REPLY_ERROR) fail("XADD error");
      freeReplyObject(reply);
    }
  }
  const double seconds = seconds_since(start);
  redisFree(context);
  return static_cast<double>(count) / seconds;
#else
  static_cast<void>(url);
  static_cast<void>(count);
  fail("built without hiredis: no Redis comparison");
#endif
}

// ---- mq ---------------------------------------------------------------------------

mq::Config config_with(mq::FsyncPolicy fsync) {
  auto config = mq::Config::defaults("development");
  config.embedded.fsync = fsync;
  return config;
}

struct ProduceResult {
  double ack_rate = 0;        // messages/s until the last send_batch returned
  double ack_bandwidth = 0;   // log bytes/s over the same time
  double disk_bandwidth = 0;  // log bytes/s including a final sync of the data dir
  double cpu_us = 0;          // process CPU per message until the last acknowledgement
  std::uint64_t bytes = 0;
};

ProduceResult produce(const std::string& url, mq::FsyncPolicy fsync, std::size_t count) {
  mq::Client client(url, config_with(fsync));
  auto producer = client.producer();
  std::vector<std::vector<mq::Message>> batches;
  const std::string value(value_bytes, 'x');
  for (std::size_t sent = 0; sent < count; sent += batch_size) {
    auto& batch = batches.emplace_back();
    for (std::size_t i = 0; i < std::min(batch_size, count - sent); ++i) batch.emplace_back("bench", value);
  }
  // Earlier passes (dd, Redis's AOF, the previous mq pass) leave dirty pages that the
  // kernel would write back during this one: flush them first, outside the clock.
  ::sync();
  const double cpu_start = cpu_seconds();
  const auto start = SteadyClock::now();
  for (auto& batch : batches) producer.send_batch(std::move(batch));
  const double acked = seconds_since(start);
  const double cpu = cpu_seconds() - cpu_start;
  const std::string dir = url.substr(std::strlen("embedded://"));
  sync_tree(dir);
  const double synced = seconds_since(start);
  ProduceResult result;
  result.bytes = log_bytes(dir);
  result.ack_rate = static_cast<double>(count) / acked;
  result.cpu_us = cpu * 1e6 / static_cast<double>(count);
  result.ack_bandwidth = static_cast<double>(result.bytes) / acked;
  result.disk_bandwidth = static_cast<double>(result.bytes) / synced;
  return result;
}

// P threads, each with its own Producer, send() in a loop for `seconds`: every send is
// acknowledged after an fdatasync, which concurrent appends share (group commit).
double produce_always(const std::string& url, int producers, double seconds) {
  mq::Client client(url, config_with(mq::FsyncPolicy::always));
  client.admin().create_topic("bench");
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> sent{0};
  std::vector<std::thread> threads;
  const std::string value(value_bytes, 'x');
  const auto start = SteadyClock::now();
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&] {
      auto producer = client.producer();
      while (!stop.load(std::memory_order_relaxed)) {
        producer.send("bench", value);
        sent.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));  // the measured span itself
  stop = true;
  for (auto& thread : threads) thread.join();
  return static_cast<double>(sent.load()) / seconds_since(start);
}

// Waits until `done` holds, or fails after `limit`.
template <typename Done>
void wait_for(Done done, std::chrono::seconds limit, const char* what) {
  const auto deadline = SteadyClock::now() + limit;
  while (!done()) {
    if (SteadyClock::now() > deadline) fail(std::string("timed out: ") + what);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

struct ConsumeResult {
  double rate = 0;    // messages/s from the consumer's creation to the last handler call
  double cpu_us = 0;  // process CPU per message over the same span
};

// max_in_flight 0: ConsumerOptions' default. batch 0: a per-message handler (Consumer);
// otherwise a BatchHandler (Client::batch_consumer) given up to `batch` messages at once,
// the consuming counterpart of the produce passes' send_batch.
ConsumeResult consume(const std::string& url, std::size_t count, int max_in_flight, std::size_t batch) {
  mq::Client client(url, config_with(mq::FsyncPolicy::never));
  std::atomic<std::size_t> handled{0};
  mq::ConsumerOptions options;
  options.group = batch ? "bench.consume-batch" : "bench.consume";
  options.topics = {"bench"};
  options.workers = 1;
  if (max_in_flight > 0) options.max_in_flight = max_in_flight;
  options.start = mq::StartPosition::earliest;
  options.poll_interval = std::chrono::milliseconds(10);
  const double cpu_start = cpu_seconds();
  const auto start = SteadyClock::now();
  auto consumer = batch ? client.batch_consumer(options, mq::BatchOptions{.max_messages = batch},
                                                [&handled](const std::vector<mq::Message>& messages) {
                                                  handled.fetch_add(messages.size(), std::memory_order_relaxed);
                                                  return mq::Outcome::ack();
                                                })
                        : client.consumer(options, [&handled](const mq::Message&) {
                            handled.fetch_add(1, std::memory_order_relaxed);
                            return mq::Outcome::ack();
                          });
  wait_for([&] { return handled.load(std::memory_order_relaxed) >= count; }, std::chrono::seconds(300), "consume");
  const double seconds = seconds_since(start);
  const double cpu = cpu_seconds() - cpu_start;
  consumer.stop(std::chrono::seconds(30));
  if (consumer.stats().acked != count) {
    fail("consumer acked " + std::to_string(consumer.stats().acked) + " messages (handler called " +
         std::to_string(handled.load()) + " times), expected " + std::to_string(count));
  }
  return ConsumeResult{static_cast<double>(count) / seconds, cpu * 1e6 / static_cast<double>(count)};
}

// The child process of the latency measurement.
int latency_producer(const std::string& url, std::size_t count) {
  mq::Client client(url, config_with(mq::FsyncPolicy::interval));
  auto producer = client.producer();
  for (std::size_t i = 0; i < count; ++i) {
    std::string value = std::to_string(monotonic_ns());
    value.resize(value_bytes, ' ');
    producer.send("latency", std::move(value));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a paced stream, not a burst
  }
  return 0;
}

struct Latency {
  double p50_us = 0, p99_us = 0;
};

Latency latency_between_processes(const std::string& self, const std::string& url, std::size_t count) {
  mq::Client client(url, config_with(mq::FsyncPolicy::interval));
  client.admin().create_topic("latency");
  std::mutex mutex;
  std::vector<double> samples;
  mq::ConsumerOptions options;
  options.group = "bench.latency";
  options.topics = {"latency"};
  options.workers = 1;
  options.start = mq::StartPosition::earliest;
  auto consumer = client.consumer(options, [&](const mq::Message& message) {
    const auto now = monotonic_ns();
    const auto sent = std::stoll(message.value);
    std::lock_guard lock(mutex);
    samples.push_back(static_cast<double>(now - sent) / 1000.0);
    return mq::Outcome::ack();
  });
  const std::string count_text = std::to_string(count);
  std::vector<char*> argv{const_cast<char*>(self.c_str()), const_cast<char*>("latency-producer"),
                          const_cast<char*>(url.c_str()), const_cast<char*>(count_text.c_str()), nullptr};
  pid_t child = 0;
  if (posix_spawn(&child, self.c_str(), nullptr, nullptr, argv.data(), environ) != 0) fail("spawn producer");
  int status = 0;
  if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail("latency producer failed");
  }
  wait_for([&] {
    std::lock_guard lock(mutex);
    return samples.size() >= count;
  }, std::chrono::seconds(60), "latency samples");
  consumer.stop(std::chrono::seconds(30));
  // The first 10% include the producer's start-up (connection, topic discovery).
  std::vector<double> kept(samples.begin() + static_cast<std::ptrdiff_t>(count / 10), samples.end());
  std::sort(kept.begin(), kept.end());
  return Latency{kept[kept.size() / 2], kept[kept.size() * 99 / 100]};
}

// ---- report -----------------------------------------------------------------------

std::string verdict(bool met) { return met ? "**met**" : "**missed**"; }

Settings parse(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--dir") settings.dir = value;
    else if (flag == "--dd") settings.dd_bytes_per_second = std::stod(value);
    else if (flag == "--redis") settings.redis_url = value;
    else if (flag == "--messages") settings.messages = std::stoul(value);
    else if (flag == "--producers") settings.producers = std::stoi(value);
    else if (flag == "--always-seconds") settings.always_seconds = std::stod(value);
    else if (flag == "--latency") settings.latency_messages = std::stoul(value);
    else if (flag == "--fsync-appends") settings.fsync_appends = std::stoul(value);
    else if (flag == "--max-in-flight") settings.max_in_flight = std::stoi(value);
    else if (flag == "--passes") settings.passes = value;
    else fail("unknown option " + flag);
  }
  if (argc % 2 == 0) fail("options take a value");
  if (settings.dir.empty() || settings.dd_bytes_per_second <= 0) fail("--dir and --dd are required");
  return settings;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 4 && std::string(argv[1]) == "latency-producer") return latency_producer(argv[2], std::stoul(argv[3]));
  const Settings s = parse(argc, argv);
  fs::create_directories(s.dir);
  const auto url = [&](const char* name) { return "embedded://" + s.dir + "/" + name; };

  double fsync_rate = 0;
  if (s.runs("raw")) {
    std::fprintf(stderr, "raw fdatasync...\n");
    fsync_rate = raw_fdatasync_rate(s.dir, s.fsync_appends);
  }
  double xadd = 0;
  if (!s.redis_url.empty() && s.runs("redis")) {
    std::fprintf(stderr, "redis XADD...\n");
    xadd = redis_xadd_rate(s.redis_url, s.messages);
  }
  std::vector<std::pair<const char*, ProduceResult>> produced;
  // consume reads the `never` pass's messages: it needs that pass.
  if (s.runs("never") || s.runs("consume") || s.runs("consume-batch")) {
    std::fprintf(stderr, "mq never...\n");
    produced.emplace_back("never", produce(url("never"), mq::FsyncPolicy::never, s.messages));
  }
  if (s.runs("interval")) {
    std::fprintf(stderr, "mq interval...\n");
    produced.emplace_back("interval", produce(url("interval"), mq::FsyncPolicy::interval, s.messages));
  }
  double always = 0;
  if (s.runs("always")) {
    std::fprintf(stderr, "mq always, %d producers...\n", s.producers);
    always = produce_always(url("always"), s.producers, s.always_seconds);
  }
  ConsumeResult consumed;
  if (s.runs("consume")) {
    std::fprintf(stderr, "consume...\n");
    consumed = consume(url("never"), s.messages, s.max_in_flight, 0);
  }
  ConsumeResult consumed_in_batches;
  if (s.runs("consume-batch")) {
    std::fprintf(stderr, "consume in batches...\n");
    consumed_in_batches = consume(url("never"), s.messages, s.max_in_flight, batch_size);
  }
  Latency latency;
  if (s.runs("latency")) {
    std::fprintf(stderr, "latency...\n");
    latency = latency_between_processes(argv[0], url("latency"), s.latency_messages);
  }

  const double dd = s.dd_bytes_per_second;
  std::printf("| measurement | result | CPU µs/msg | ratio | target |\n|---|---:|---:|---:|---|\n");
  std::printf("| raw dd bandwidth (conv=fdatasync) | %.1f MB/s | | | |\n", dd / 1e6);
  if (fsync_rate > 0) std::printf("| raw fdatasync per 4 KiB append | %.0f /s | | | |\n", fsync_rate);
  if (xadd > 0) std::printf("| redis pipelined XADD (100 B) | %.0f msgs/s | | | |\n", xadd);
  for (const auto& [name, result] : produced) {
    const double bandwidth_ratio = result.disk_bandwidth / dd;
    const double xadd_ratio = xadd > 0 ? result.ack_rate / xadd : 0;
    std::printf("| mq fsync %s: produce (acked) | %.0f msgs/s, %.1f MB/s | %.2f | %.2f× XADD | ≥ 2× XADD: %s |\n", name,
                result.ack_rate, result.ack_bandwidth / 1e6, result.cpu_us, xadd_ratio,
                xadd > 0 ? verdict(xadd_ratio >= 2).c_str() : "n/a");
    std::printf("| mq fsync %s: to disk (with final sync) | %.1f MB/s (%.0f MB of log) | | %.0f%% of dd | ≥ 70%% of dd: %s |\n",
                name, result.disk_bandwidth / 1e6, static_cast<double>(result.bytes) / 1e6, bandwidth_ratio * 100,
                verdict(bandwidth_ratio >= 0.7).c_str());
  }
  if (always > 0 && fsync_rate > 0) {
    std::printf("| mq fsync always, %d producers, send() | %.0f msgs/s | | %.1f× raw fdatasync | ≥ 20×: %s |\n",
                s.producers, always, always / fsync_rate, verdict(always / fsync_rate >= 20).c_str());
  }
  const auto consume_row = [&](const char* what, const ConsumeResult& result) {
    if (result.rate <= 0) return;
    const double produce_rate = produced.front().second.ack_rate;
    std::printf("| mq consume, 1 worker, %s | %.0f msgs/s | %.2f | %.2f× produce (never, send_batch) | ≥ 1×: %s |\n",
                what, result.rate, result.cpu_us, result.rate / produce_rate, verdict(result.rate >= produce_rate).c_str());
  };
  consume_row("handler per message", consumed);
  consume_row("batch handler (1,000)", consumed_in_batches);
  if (latency.p50_us > 0) {
    std::printf("| mq end-to-end latency, two processes (fsync interval, 1 msg/ms) | p50 %.0f µs, p99 %.0f µs | | | reported |\n",
                latency.p50_us, latency.p99_us);
  }
  return 0;
} catch (const std::exception& error) {
  std::cerr << "embedded_bench: " << error.what() << '\n';
  return 1;
}
