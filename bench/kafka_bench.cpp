// kafka_bench: mq's Kafka engine against raw librdkafka doing the same work, in one run
// against one cluster (librdkafka's mock cluster from mq_kafka_mock: no real broker can
// be installed here).
//
//   kafka_bench --url kafka://127.0.0.1:P1,... [--messages N] [--partitions P]
//
// Work: N messages of 100 bytes, no key, produced (acks=1, linger 5 ms: mq's development
// defaults, set the same on the raw producer; mq through send_async + flush), then
// consumed by a new consumer group from the earliest offset (raw: rd_kafka_consumer_poll
// with auto-commit; mq: a consumer with 1 worker whose handler only counts, committing
// contiguously). Each side has its own topic of P partitions; the 2.0.2 mock keeps only
// ~5 MB per partition, so P must keep N x ~200 bytes / P under that.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

void phase_done(const char* phase, std::size_t count, double seconds) {
  std::fprintf(stderr, "%s: %zu messages in %.2f s\n", phase, count, seconds);
}

std::atomic<std::size_t> raw_delivered{0}, raw_failed{0};
void count_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  (message->err ? raw_failed : raw_delivered).fetch_add(1, std::memory_order_relaxed);
}

double raw_produce(const Settings& settings, const std::string& topic) {
  rd_kafka_t* producer = raw_handle(RD_KAFKA_PRODUCER, bootstrap_of(settings.url),
                                    {{"acks", "1"}, {"linger.ms", "5"}, {"partitioner", "murmur2_random"},
                                     {"queue.buffering.max.messages", "2000000"}},
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
  if (!producer.flush(std::chrono::minutes(5))) throw mq::Error(mq::ErrorCode::timeout, "flush took over 5 minutes");
  const double seconds = Seconds(SteadyClock::now() - start).count();
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

void row(const char* name, std::size_t count, double raw, double mine) {
  std::printf("| %s | %.0f | %.0f | %.1f%% |\n", name, count / raw, count / mine, 100.0 * raw / mine);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--url") settings.url = argv[i + 1];
    else if (flag == "--messages") settings.messages = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--partitions") settings.partitions = std::atoi(argv[i + 1]);
  }
  if (settings.url.empty()) {
    std::fprintf(stderr, "usage: kafka_bench --url kafka://HOST:PORT[,...] [--messages N] [--partitions P]\n");
    return 2;
  }
  auto config = mq::Config::defaults("development");
  config.url = settings.url;
  mq::Client client(config);
  const std::string run = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  const std::string raw_topic = "bench.raw." + run, mq_topic = "bench.mq." + run;
  for (const auto& name : {raw_topic, mq_topic}) client.admin().create_topic(name, mq::TopicOptions{.partitions = settings.partitions});
  // Interleaved so that both sides see the same machine load.
  const double raw_p = raw_produce(settings, raw_topic);
  phase_done("raw produce", settings.messages, raw_p);
  const double mq_p = mq_produce(client, settings, mq_topic);
  phase_done("mq produce", settings.messages, mq_p);
  const double raw_c = raw_consume(settings, raw_topic);
  phase_done("raw consume", settings.messages, raw_c);
  const double mq_c = mq_consume(client, settings, mq_topic);
  phase_done("mq consume", settings.messages, mq_c);
  std::printf("%zu x %zu-byte messages, %d partitions, %s\n\n", settings.messages, value_bytes, settings.partitions,
              rd_kafka_version_str());
  std::printf("| phase | raw librdkafka msgs/s | mq msgs/s | mq / raw |\n|---|---:|---:|---:|\n");
  row("produce", settings.messages, raw_p, mq_p);
  row("consume", settings.messages, raw_c, mq_c);
  row("produce + consume", settings.messages, raw_p + raw_c, mq_p + mq_c);
  return 0;
}
