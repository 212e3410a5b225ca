// kafka_bench: mq's Kafka engine against raw librdkafka doing the same work, in one run
// against one cluster (librdkafka's mock cluster from mq_kafka_mock: no real broker can
// be installed here).
//
//   kafka_bench --url kafka://127.0.0.1:P1,... [--messages N] [--partitions P]
//               [--side raw|mq|both] [--phases produce|all]
//
// --side and --phases run a part only (default: both sides, produce then consume), for
// profiling one side under callgrind or perf: the difference between two runs with
// different N is the per-message cost, free of start-up and group joins.
// Work: N messages of 100 bytes, no key, produced (acks=1, linger 5 ms: mq's development
// defaults, set the same on the raw producer; mq through send_async + flush), then
// consumed by a new consumer group from the earliest offset (raw: rd_kafka_consumer_poll
// with auto-commit; mq: a consumer with 1 worker whose handler only counts, committing
// contiguously). Each side has its own topic of P partitions; the 2.0.2 mock keeps only
// ~5 MB per partition, so P must keep N x ~200 bytes / P under that. For the same reason
// both sides turn librdkafka's sticky partitioning of keyless messages off
// (sticky.partitioning.linger.ms=0; for mq through the URL): with it, a fast producer
// puts every message of 10 ms (25,000 at 2.5 M/s) into one partition, and the mock
// silently dropped the oldest ones of the partitions it picked most often.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>

#include <mq/mq.hpp>

namespace {

using Seconds = std::chrono::duration<double>;
using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t value_bytes = 100;

struct Settings {
  std::string url;
  std::size_t messages = 1'000'000;
  int partitions = 64;
  bool raw = true, mine = true;  // --side
  bool consume = true;           // --phases all
};

// CPU time of the whole process (every thread: the client's own and librdkafka's; the
// mock cluster is another process), so a phase's CPU per message compares the clients'
// work, which wall time on a shared 2-core machine does not.
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

struct Timing {
  double wall = 0;  // seconds
  double cpu = 0;   // seconds of process CPU during the phase
};

std::string bootstrap_of(const std::string& url) {
  const auto start = url.find("://") + 3;
  return url.substr(start, url.find('?') == std::string::npos ? std::string::npos : url.find('?') - start);
}

rd_kafka_t* raw_handle(rd_kafka_type_t type, const std::string& bootstrap,
                       std::initializer_list<std::pair<const char*, std::string>> properties,
                       void (*delivery)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char reason[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), reason, sizeof reason);
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name, value.c_str(), reason, sizeof reason) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "%s\n", reason);
      std::exit(1);
    }
  }
  if (delivery) rd_kafka_conf_set_dr_msg_cb(conf, delivery);
  rd_kafka_t* handle = rd_kafka_new(type, conf, reason, sizeof reason);
  if (!handle) {
    std::fprintf(stderr, "%s\n", reason);
    std::exit(1);
  }
  return handle;
}

// A phase that makes no progress for this long stops the run with what it has: a
// silent hang (as the first 1,000,000-message run had) tells nothing.
constexpr auto stall_limit = std::chrono::seconds(30);

[[noreturn]] void stalled(const char* phase, std::size_t done, std::size_t wanted) {
  std::fprintf(stderr, "%s: stalled at %zu of %zu messages (no progress for %lld s)\n", phase, done, wanted,
               static_cast<long long>(stall_limit.count()));
  std::exit(1);
}

// Runs one phase (which returns its wall seconds) and measures the CPU it took.
template <typename Phase>
Timing timed(const char* name, std::size_t count, Phase&& phase) {
  const double cpu_start = process_cpu_seconds();
  Timing timing;
  timing.wall = phase();
  timing.cpu = process_cpu_seconds() - cpu_start;
  std::fprintf(stderr, "%s: %zu messages in %.2f s, CPU %.3f us/message\n", name, count, timing.wall,
               1e6 * timing.cpu / static_cast<double>(count));
  return timing;
}

std::atomic<std::size_t> raw_delivered{0}, raw_failed{0};
void count_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  (message->err ? raw_failed : raw_delivered).fetch_add(1, std::memory_order_relaxed);
}

double raw_produce(const Settings& settings, const std::string& topic) {
  rd_kafka_t* producer = raw_handle(RD_KAFKA_PRODUCER, bootstrap_of(settings.url),
                                    {{"acks", "1"}, {"linger.ms", "5"}, {"partitioner", "murmur2_random"},
                                     {"queue.buffering.max.messages", "2000000"},
                                     {"sticky.partitioning.linger.ms", "1"}},
                                    count_delivery);
  const std::string value(value_bytes, 'v');
  const auto start = SteadyClock::now();
  for (std::size_t i = 0; i < settings.messages; ++i) {
    while (rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer, 1);
    }
    rd_kafka_poll(producer, 0);
  }
  rd_kafka_flush(producer, 300'000);
  const double seconds = Seconds(SteadyClock::now() - start).count();
  rd_kafka_destroy(producer);
  if (raw_delivered != settings.messages) std::fprintf(stderr, "raw: %zu failed\n", raw_failed.load());
  return seconds;
}

// Consumption is timed from the first message on: a new group's first assignment waits
// ~3 s in the mock (its group.initial.rebalance.delay), the same for both sides.
double raw_consume(const Settings& settings, const std::string& topic) {
  rd_kafka_t* consumer = raw_handle(RD_KAFKA_CONSUMER, bootstrap_of(settings.url),
                                    {{"group.id", topic + ".raw.group"}, {"auto.offset.reset", "earliest"},
                                     {"fetch.wait.max.ms", "100"}, {"session.timeout.ms", "3000"},
                                     {"heartbeat.interval.ms", "500"}});
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  std::size_t received = 0;
  SteadyClock::time_point start{};
  auto progress = SteadyClock::now();
  while (received < settings.messages) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 100);
    if (!message) {
      if (SteadyClock::now() - progress > stall_limit) stalled("raw consume", received, settings.messages);
      continue;
    }
    if (!message->err) {
      if (received++ == 0) start = SteadyClock::now();
      progress = SteadyClock::now();
    }
    rd_kafka_message_destroy(message);
  }
  const double seconds = Seconds(SteadyClock::now() - start).count();
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return seconds;
}

double mq_produce(mq::Client& client, const Settings& settings, const std::string& topic) {
  mq::ProducerOptions options = client.config().producer;
  options.max_buffered_bytes = std::size_t{1} << 30;  // send_async never blocks: room for all
  auto producer = client.producer(options);
  const std::string value(value_bytes, 'v');
  const auto start = SteadyClock::now();
  std::atomic<std::size_t> failed{0};
  for (std::size_t i = 0; i < settings.messages; ++i) {
    producer.send_async(mq::Message(topic, value), [&failed](const mq::Status& status, const mq::Receipt&) {
      if (!status.ok()) failed.fetch_add(1, std::memory_order_relaxed);
    });
  }
  // How long the calls alone took: the rest of the phase is waiting for the engine.
  const double calls = Seconds(SteadyClock::now() - start).count();
  if (!producer.flush(std::chrono::minutes(5))) throw mq::Error(mq::ErrorCode::timeout, "flush took over 5 minutes");
  const double seconds = Seconds(SteadyClock::now() - start).count();
  std::fprintf(stderr, "mq produce: send_async calls took %.2f s of %.2f s\n", calls, seconds);
  if (failed) std::fprintf(stderr, "mq: %zu failed\n", failed.load());
  return seconds;
}

double mq_consume(mq::Client& client, const Settings& settings, const std::string& topic) {
  std::atomic<std::size_t> handled{0};
  mq::ConsumerOptions options;
  options.group = topic + ".mq.group";
  options.topics = {topic};
  options.workers = 1;
  options.start = mq::StartPosition::earliest;
  options.poll_interval = std::chrono::milliseconds(10);
  std::atomic<SteadyClock::rep> first{0};
  auto consumer = client.consumer(options, [&handled, &first](const mq::Message&) {
    if (handled.fetch_add(1, std::memory_order_relaxed) == 0) first = SteadyClock::now().time_since_epoch().count();
    return mq::Outcome::ack();
  });
  std::size_t seen = 0;
  auto progress = SteadyClock::now();
  while (handled.load(std::memory_order_relaxed) < settings.messages) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (const auto now = handled.load(std::memory_order_relaxed); now != seen) {
      seen = now;
      progress = SteadyClock::now();
    } else if (SteadyClock::now() - progress > stall_limit) {
      stalled("mq consume", seen, settings.messages);
    }
  }
  const auto start = SteadyClock::time_point(SteadyClock::duration(first.load()));
  const double seconds = Seconds(SteadyClock::now() - start).count();
  consumer.stop(std::chrono::seconds(30));
  return seconds;
}

void row(const char* name, std::size_t count, const Timing& raw, const Timing& mine) {
  const auto n = static_cast<double>(count);
  std::printf("| %s | %.0f | %.0f | %.1f%% | %.2f | %.2f |\n", name, n / raw.wall, n / mine.wall,
              100.0 * raw.wall / mine.wall, 1e6 * raw.cpu / n, 1e6 * mine.cpu / n);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--url") settings.url = value;
    else if (flag == "--messages") settings.messages = std::strtoull(value.c_str(), nullptr, 10);
    else if (flag == "--partitions") settings.partitions = std::atoi(value.c_str());
    else if (flag == "--side") settings.raw = value != "mq", settings.mine = value != "raw";
    else if (flag == "--phases") settings.consume = value != "produce";
  }
  if (settings.url.empty()) {
    std::fprintf(stderr, "usage: kafka_bench --url kafka://HOST:PORT[,...] [--messages N] [--partitions P] "
                         "[--side raw|mq|both] [--phases produce|all]\n");
    return 2;
  }
  auto config = mq::Config::defaults("development");
  config.url = settings.url + (settings.url.find('?') == std::string::npos ? "?" : "&") +
               "sticky.partitioning.linger.ms=1";
  mq::Client client(config);
  const std::string run = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  const std::string raw_topic = "bench.raw." + run, mq_topic = "bench.mq." + run;
  for (const auto& name : {raw_topic, mq_topic}) client.admin().create_topic(name, mq::TopicOptions{.partitions = settings.partitions});
  const auto n = settings.messages;
  Timing raw_p, mq_p, raw_c, mq_c;
  // Interleaved so that both sides see the same machine load.
  if (settings.raw) raw_p = timed("raw produce", n, [&] { return raw_produce(settings, raw_topic); });
  if (settings.mine) mq_p = timed("mq produce", n, [&] { return mq_produce(client, settings, mq_topic); });
  if (settings.consume && settings.raw) raw_c = timed("raw consume", n, [&] { return raw_consume(settings, raw_topic); });
  if (settings.consume && settings.mine) mq_c = timed("mq consume", n, [&] { return mq_consume(client, settings, mq_topic); });
  if (!settings.raw || !settings.mine) return 0;
  std::printf("%zu x %zu-byte messages, %d partitions, %s\n\n", n, value_bytes, settings.partitions,
              rd_kafka_version_str());
  std::printf("| phase | raw librdkafka msgs/s | mq msgs/s | mq / raw | raw CPU us/msg | mq CPU us/msg |\n"
              "|---|---:|---:|---:|---:|---:|\n");
  row("produce", n, raw_p, mq_p);
  if (!settings.consume) return 0;
  row("consume", n, raw_c, mq_c);
  row("produce + consume", n, Timing{raw_p.wall + raw_c.wall, raw_p.cpu + raw_c.cpu},
      Timing{mq_p.wall + mq_c.wall, mq_p.cpu + mq_c.cpu});
  return 0;
}
