// redis_bench: mq over Redis against raw hiredis doing the same work, in one run, on a
// redis-server it starts itself with scripts/servers/redis.sh (AOF, appendfsync always).
//
//   redis_bench [--messages N] [--latency M] [--repeat R] [--appendfsync always|everysec|no]
//               [--side raw|mq|both]   (one side alone: its throughput only, for profiling)
//
// --appendfsync (default always, the durable setting the tests use) is the server's AOF
// policy; with `no` the disk drops out and the figures compare the clients themselves.
// Work, each side on a fresh stream/topic of one partition per pass:
//   produce  N messages of 100 bytes: raw = pipelined XADD in batches of 1,000;
//            mq = Producer::send_batch of 1,000.
//   consume  the N messages by a new group: raw = XREADGROUP COUNT 256 and one XACK per
//            batch; mq = a Consumer with 1 worker and a counting handler.
//   latency  M round trips, one message at a time (the next is sent when the previous
//            arrived): raw = XADD, with a reader blocked in XREADGROUP then XACK;
//            mq = Producer::send with a Consumer waiting. Send call to handler start.
// Throughput figures are the median of R passes (by wall time), with the client
// process's CPU µs per message in that pass (all its threads) and the server's (the
// delta of INFO cpu used_cpu_user + used_cpu_sys over the pass, every thread of
// redis-server). "paired" is the median over passes of raw time / mq time of the same
// pass (each pass runs raw and mq back to back). After the tables: the server's commands
// per 1,000 messages in each phase (INFO commandstats), e.g. how many XACKs a side sent.
// The mq side uses only <mq/mq.hpp>.
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <mq/mq.hpp>

namespace {

using SteadyClock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;
constexpr std::size_t value_bytes = 100;
constexpr std::size_t batch_size = 1000;

struct Settings {
  std::size_t messages = 200'000;
  std::size_t latency = 2'000;
  int repeat = 3;
  std::string appendfsync = "always";
  std::string side = "both";  // raw, mq or both (one side alone: for profiling)
};

// The redis-server of this run, started and stopped by the project's script.
class Server {
 public:
  Server() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mq-redis-bench-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    if (!run("start")) throw std::runtime_error("redis.sh start failed");
    std::ifstream url(dir_ + "/url"), port(dir_ + "/port");
    std::getline(url, url_);
    port >> port_;
  }
  ~Server() {
    run("stop");
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::string& url() const { return url_; }
  int port() const { return port_; }

 private:
  bool run(const std::string& verb) {
    return std::system(("'" MQ_REDIS_SCRIPT "' " + verb + " '" + dir_ + "' >/dev/null").c_str()) == 0;
  }
  std::string dir_, url_;
  int port_ = 0;
};

// A raw hiredis connection; every reply is checked and freed.
class Raw {
 public:
  explicit Raw(int port) : context_(redisConnect("127.0.0.1", port)) {
    if (!context_ || context_->err) throw std::runtime_error("raw: cannot connect");
  }
  ~Raw() { redisFree(context_); }
  void append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    redisAppendCommandArgv(context_, static_cast<int>(args.size()), argv.data(), lengths.data());
  }
  // The next reply; the caller frees it.
  redisReply* reply() {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || !raw) throw std::runtime_error("raw: connection failed");
    auto* reply = static_cast<redisReply*>(raw);
    if (reply->type == REDIS_REPLY_ERROR) throw std::runtime_error(std::string("raw: ") + reply->str);
    return reply;
  }
  void command(const std::vector<std::string>& args) {
    append(args);
    freeReplyObject(reply());
  }

 private:
  redisContext* context_;
};

int pass = 0;
double seconds_since(SteadyClock::time_point start) { return Seconds(SteadyClock::now() - start).count(); }

// CPU time of this process (every thread; the server is another process).
double cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// What the server has done so far: its CPU seconds (user + system, all its threads) and
// the commands it has run by name, without INFO itself. One INFO for both.
struct ServerStats {
  double cpu_seconds = 0;
  std::map<std::string, long long> calls;
};
ServerStats server_stats(int port) {
  Raw raw(port);
  raw.append({"INFO", "cpu", "commandstats"});
  redisReply* reply = raw.reply();
  const std::string info(reply->str, reply->len);
  freeReplyObject(reply);
  ServerStats stats;
  for (const char* field : {"used_cpu_user:", "used_cpu_sys:"}) {
    const auto at = info.find(field);
    if (at == std::string::npos) throw std::runtime_error(std::string("INFO cpu has no ") + field);
    stats.cpu_seconds += std::stod(info.substr(at + std::strlen(field)));
  }
  std::size_t at = 0;
  while ((at = info.find("cmdstat_", at)) != std::string::npos) {
    const auto colon = info.find(':', at);
    const auto value = info.find("calls=", colon);
    if (colon == std::string::npos || value == std::string::npos) break;
    std::string name = info.substr(at + 8, colon - at - 8);
    if (name != "info") stats.calls[name] = std::stoll(info.substr(value + 6));
    at = colon;
  }
  return stats;
}

// One measured phase: wall seconds, client and server CPU seconds, server commands run.
struct Timing {
  double wall = 0, cpu = 0, server_cpu = 0;
  std::map<std::string, long long> calls;
};
template <typename Work>
Timing timed(int port, Work&& work) {
  auto before = server_stats(port);
  const double cpu = cpu_seconds();
  const double wall = work();
  const double client = cpu_seconds() - cpu;
  const auto after = server_stats(port);
  Timing timing{wall, client, after.cpu_seconds - before.cpu_seconds, {}};
  for (const auto& [name, calls] : after.calls) {
    if (const auto delta = calls - before.calls[name]; delta > 0) timing.calls[name] = delta;
  }
  return timing;
}

double raw_produce(int port, const std::string& stream, std::size_t count) {
  Raw raw(port);
  const std::string value(value_bytes, 'x');
  const auto start = SteadyClock::now();
  for (std::size_t sent = 0; sent < count; sent += batch_size) {
    const auto n = std::min(batch_size, count - sent);
    for (std::size_t i = 0; i < n; ++i) raw.append({"XADD", stream, "*", "m", value});
    for (std::size_t i = 0; i < n; ++i) freeReplyObject(raw.reply());
  }
  return seconds_since(start);
}

double raw_consume(int port, const std::string& stream, std::size_t count) {
  Raw raw(port);
  raw.command({"XGROUP", "CREATE", stream, "g", "0"});
  const auto start = SteadyClock::now();
  std::size_t handled = 0;
  while (handled < count) {
    raw.append({"XREADGROUP", "GROUP", "g", "c", "COUNT", "256", "BLOCK", "1000", "STREAMS", stream, ">"});
    redisReply* reply = raw.reply();
    std::vector<std::string> ack{"XACK", stream, "g"};
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
      const redisReply* entries = reply->element[0]->element[1];
      for (std::size_t i = 0; i < entries->elements; ++i) ack.emplace_back(entries->element[i]->element[0]->str);
    }
    freeReplyObject(reply);
    if (ack.size() > 3) {
      handled += ack.size() - 3;
      raw.command(ack);
    }
  }
  return seconds_since(start);
}

mq::Config config_for(const std::string& url) {
  auto config = mq::Config::defaults("development");
  config.url = url;
  config.producer.linger = std::chrono::milliseconds(1);
  return config;
}

double mq_produce(mq::Client& client, const std::string& topic, std::size_t count) {
  client.admin().create_topic(topic, mq::TopicOptions{.partitions = 1});
  auto producer = client.producer();
  std::vector<std::vector<mq::Message>> batches;
  for (std::size_t sent = 0; sent < count; sent += batch_size) {
    batches.emplace_back(std::min(batch_size, count - sent), mq::Message(topic, std::string(value_bytes, 'x')));
  }
  const auto start = SteadyClock::now();
  for (auto& batch : batches) producer.send_batch(std::move(batch));
  return seconds_since(start);
}

double mq_consume(mq::Client& client, const std::string& topic, std::size_t count) {
  std::atomic<std::size_t> handled{0};
  // The last message wakes the main thread: no polling loop of its own, whose wake-ups
  // would count as mq's client CPU (they did: up to 3 µs per message when the server
  // was slow).
  std::mutex mutex;
  std::condition_variable all_handled;
  bool done = false;
  auto options = client.config().consumer;
  options.group = topic + ".group";
  options.topics = {topic};
  options.start = mq::StartPosition::earliest;
  options.workers = 1;
  const auto start = SteadyClock::now();
  auto consumer = client.consumer(options, [&](const mq::Message&) {
    if (handled.fetch_add(1, std::memory_order_relaxed) + 1 == count) {
      std::lock_guard lock(mutex);
      done = true;
      all_handled.notify_one();
    }
    return mq::Outcome::ack();
  });
  {
    std::unique_lock lock(mutex);
    all_handled.wait(lock, [&] { return done; });
  }
  const double elapsed = seconds_since(start);
  consumer.stop();
  return elapsed;
}

// Latencies in microseconds, sorted.
std::vector<double> raw_latency(int port, std::size_t count) {
  const std::string stream = "raw.latency";
  Raw writer(port);
  writer.command({"XGROUP", "CREATE", stream, "g", "$", "MKSTREAM"});
  std::atomic<std::size_t> received{0};
  std::vector<double> latencies(count);
  std::atomic<long long> sent_at{0};
  std::thread reader([&] {
    Raw raw(port);
    for (std::size_t i = 0; i < count; ++i) {
      raw.append({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "BLOCK", "0", "STREAMS", stream, ">"});
      redisReply* reply = raw.reply();
      const auto now = SteadyClock::now().time_since_epoch().count();
      latencies[i] = static_cast<double>(now - sent_at.load()) / 1000.0;
      std::string id = reply->element[0]->element[1]->element[0]->element[0]->str;
      freeReplyObject(reply);
      raw.command({"XACK", stream, "g", id});
      received.store(i + 1);
    }
  });
  const std::string value(value_bytes, 'x');
  for (std::size_t i = 0; i < count; ++i) {
    sent_at.store(SteadyClock::now().time_since_epoch().count());
    writer.command({"XADD", stream, "*", "m", value});
    while (received.load() <= i) std::this_thread::yield();
  }
  reader.join();
  std::sort(latencies.begin(), latencies.end());
  return latencies;
}

std::vector<double> mq_latency(mq::Client& client, std::size_t count) {
  client.admin().create_topic("bench.latency", mq::TopicOptions{.partitions = 1});
  std::atomic<std::size_t> received{0};
  std::atomic<long long> sent_at{0};
  std::vector<double> latencies(count + 1);
  auto options = client.config().consumer;
  options.group = "bench.latency.group";
  options.topics = {"bench.latency"};
  options.workers = 1;
  auto consumer = client.consumer(options, [&](const mq::Message&) {
    const auto now = SteadyClock::now().time_since_epoch().count();
    const auto n = received.load();
    latencies[n] = static_cast<double>(now - sent_at.load()) / 1000.0;
    received.store(n + 1);
    return mq::Outcome::ack();
  });
  auto producer = client.producer();
  for (std::size_t i = 0; i <= count; ++i) {  // the first is a warm-up
    sent_at.store(SteadyClock::now().time_since_epoch().count());
    producer.send(mq::Message("bench.latency", std::string(value_bytes, 'x')));
    while (received.load() <= i) std::this_thread::yield();
  }
  consumer.stop();
  latencies.erase(latencies.begin());
  std::sort(latencies.begin(), latencies.end());
  return latencies;
}

// The median pass by wall time.
Timing median(std::vector<Timing> values) {
  std::sort(values.begin(), values.end(), [](const Timing& a, const Timing& b) { return a.wall < b.wall; });
  return values[values.size() / 2];
}

double percentile(const std::vector<double>& sorted, double p) {
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
}

// "XREADGROUP 3.9, XACK 3.9": the commands of a pass per 1,000 messages.
std::string calls_per_thousand(const Timing& timing, std::size_t count) {
  std::string text;
  for (const auto& [name, calls] : timing.calls) {
    char part[64];
    std::snprintf(part, sizeof part, "%s%s %.1f", text.empty() ? "" : ", ", name.c_str(),
                  1000.0 * static_cast<double>(calls) / static_cast<double>(count));
    text += part;
  }
  return text.empty() ? "none" : text;
}

// One throughput row. "mq/raw" compares the two median passes; "paired" is the median
// over rounds of raw time / mq time within the same round (both sides ran seconds apart),
// which a shared machine's drifting load disturbs much less.
void row(const char* what, std::size_t count, const std::vector<Timing>& raw_passes,
         const std::vector<Timing>& mq_passes) {
  const Timing raw = median(raw_passes), mq = median(mq_passes);
  std::vector<double> paired;
  for (std::size_t i = 0; i < std::min(raw_passes.size(), mq_passes.size()); ++i) {
    paired.push_back(raw_passes[i].wall / mq_passes[i].wall);
  }
  std::sort(paired.begin(), paired.end());
  const double n = static_cast<double>(count);
  std::printf("| %-38s | %11.0f | %11.0f | %5.1f%% | %5.1f%% | %8.2f | %8.2f | %8.2f | %8.2f |\n", what, n / raw.wall,
              n / mq.wall, 100.0 * raw.wall / mq.wall, 100.0 * paired[paired.size() / 2], 1e6 * raw.cpu / n,
              1e6 * mq.cpu / n, 1e6 * raw.server_cpu / n, 1e6 * mq.server_cpu / n);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--messages") settings.messages = std::stoul(argv[i + 1]);
    else if (flag == "--latency") settings.latency = std::stoul(argv[i + 1]);
    else if (flag == "--repeat") settings.repeat = std::stoi(argv[i + 1]);
    else if (flag == "--appendfsync") settings.appendfsync = argv[i + 1];
    else if (flag == "--side") settings.side = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: %s [--messages N] [--latency M] [--repeat R] [--appendfsync always|everysec|no] [--side raw|mq|both]\n",
                   argv[0]);
      return 2;
    }
  }
  ::setenv("MQ_REDIS_APPENDFSYNC", settings.appendfsync.c_str(), 1);
  try {
    Server server;
    mq::Client client(config_for(server.url()));
    std::vector<Timing> raw_put, raw_get, mq_put, mq_get;
    for (int r = 0; r < settings.repeat; ++r) {
      // Alternate which side goes first: the server's state (memory, AOF size) grows
      // through the run and must not always favour the same side.
      const std::string stream = "raw.bench." + std::to_string(++pass);
      const std::string topic = "bench.events." + std::to_string(pass);
      auto raw_pass = [&] {
        if (settings.side == "mq") return;
        raw_put.push_back(timed(server.port(), [&] { return raw_produce(server.port(), stream, settings.messages); }));
        raw_get.push_back(timed(server.port(), [&] { return raw_consume(server.port(), stream, settings.messages); }));
      };
      auto mq_pass = [&] {
        if (settings.side == "raw") return;
        mq_put.push_back(timed(server.port(), [&] { return mq_produce(client, topic, settings.messages); }));
        mq_get.push_back(timed(server.port(), [&] { return mq_consume(client, topic, settings.messages); }));
      };
      if (r % 2 == 0) {
        raw_pass();
        mq_pass();
      } else {
        mq_pass();
        raw_pass();
      }
    }
    if (settings.side != "both") {
      const double n = static_cast<double>(settings.messages);
      for (const auto* times : {&raw_put, &raw_get, &mq_put, &mq_get}) {
        if (times->empty()) continue;
        const Timing t = median(*times);
        std::printf("%.0f msgs/s, client CPU %.2f µs/msg, server CPU %.2f µs/msg; per 1,000 messages: %s\n",
                    n / t.wall, 1e6 * t.cpu / n, 1e6 * t.server_cpu / n,
                    calls_per_thousand(t, settings.messages).c_str());
      }
      return 0;
    }
    const auto raw_lat = raw_latency(server.port(), settings.latency);
    const auto mq_lat = mq_latency(client, settings.latency);
    std::printf("redis_bench: %zu messages of %zu bytes, median of %d; %zu latency round trips; appendfsync %s\n"
                "(CPU columns: µs per message, client process / redis-server)\n\n",
                settings.messages, value_bytes, settings.repeat, settings.latency, settings.appendfsync.c_str());
    std::printf("| %-38s | %11s | %11s | %6s | %6s | %8s | %8s | %8s | %8s |\n", "throughput (msgs/s)", "raw hiredis",
                "mq", "mq/raw", "paired", "raw CPU", "mq CPU", "raw srv", "mq srv");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    row("produce (pipelined XADD / send_batch)", settings.messages, raw_put, mq_put);
    row("consume (XREADGROUP+XACK / Consumer)", settings.messages, raw_get, mq_get);
    std::printf("\n| %-38s | %12s | %12s | %6s |\n", "end-to-end latency (µs)", "raw hiredis", "mq", "mq-raw");
    std::printf("|---|---:|---:|---:|\n");
    for (const auto& [name, p] : {std::pair{"p50", 0.50}, std::pair{"p99", 0.99}}) {
      const double raw = percentile(raw_lat, p), mine = percentile(mq_lat, p);
      std::printf("| %-38s | %12.1f | %12.1f | %+6.1f |\n", name, raw, mine, mine - raw);
    }
    std::printf("\nServer commands per 1,000 messages (median pass):\n");
    for (const auto& [what, times] : {std::pair{"raw produce", &raw_put}, std::pair{"mq produce", &mq_put},
                                      std::pair{"raw consume", &raw_get}, std::pair{"mq consume", &mq_get}}) {
      std::printf("  %-12s %s\n", what, calls_per_thousand(median(*times), settings.messages).c_str());
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "redis_bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
