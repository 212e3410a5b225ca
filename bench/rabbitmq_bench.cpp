// rabbitmq_bench: mq's amqp:// engine against raw rabbitmq-c doing the same work, in one
// run against one server (bench/RESULTS.md, "RabbitMQ").
//
//   rabbitmq_bench URL [--messages N] [--repeat R] [--plain-url URL2] [--prefetch P]
//
// The work: N persistent messages of 100 bytes published in batches of 1,000, each
// batch waiting for its publisher confirms; then the same N consumed by one consumer
// that acks every message. Raw: one connection, a durable topic exchange and a durable
// classic queue bound to it, basic.publish + confirms, basic.consume + basic.ack
// (prefetch 100, mq's default). mq: Producer::send_batch(1000) and a Consumer with one
// worker whose handler only counts, on a group created before the messages were sent.
// "raw+stream" is raw with a stream also bound to the exchange, the server-side work of
// mq's topology (bench/RESULTS.md); "raw+stream+prio" also declares the queue with
// x-max-priority 9, as mq's group queues are (the priority capability): that is all of
// mq's server-side work; "mq plain" is mq with ?max_priority=0 (plain group queues), to
// compare with raw+stream. It runs only with --plain-url, a URL of another vhost on the
// same server (core's own groups exist in each vhost with one queue type; run_rabbitmq.sh
// creates the vhost). Passes rotate (mq, mq plain, raw, raw+stream, raw+stream+prio);
// each figure is the median of R passes.
#include <amqp.h>
#include <amqp_tcp_socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <mq/mq.hpp>

namespace {

using Seconds = std::chrono::duration<double>;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t value_bytes = 100;
constexpr std::size_t batch_size = 1000;
int prefetch = 100;  // basic.qos for raw and ?prefetch= for mq (--prefetch); 100 is mq's default

// What the raw side declares besides its queue.
struct Topology {
  bool stream = false;    // a stream bound to the exchange too (every message stored twice)
  bool priority = false;  // the queue has x-max-priority 9
};

// One measured phase over the passes: wall seconds and process CPU seconds (all
// threads: mq's poll thread and workers count, as does rabbitmq-c's work in raw).
struct Phase {
  std::vector<double> wall, cpu;
};

struct Times {
  Phase produce, consume;
};

// Measures one phase from construction to done().
class Stopwatch {
 public:
  Stopwatch() : wall_(SteadyClock::now()), cpu_(std::clock()) {}
  void done(Phase& phase) const {
    phase.wall.push_back(Seconds(SteadyClock::now() - wall_).count());
    phase.cpu.push_back(static_cast<double>(std::clock() - cpu_) / CLOCKS_PER_SEC);
  }

 private:
  SteadyClock::time_point wall_;
  std::clock_t cpu_;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// ---- raw rabbitmq-c -------------------------------------------------------------------

void expect(const amqp_rpc_reply_t& reply, const char* what) {
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error(std::string("raw: ") + what + " failed");
}

amqp_connection_state_t raw_connect(const mq::Config& config) {
  // URL parts the way mq reads them: amqp://user:password@host:port/
  const auto& url = config.url;
  const auto at = url.find('@');
  const auto colon = url.find(':', 7);
  const auto host_start = at + 1;
  const auto port_colon = url.find(':', host_start);
  const auto slash = url.find('/', host_start);
  const std::string user = url.substr(7, colon - 7), password = url.substr(colon + 1, at - colon - 1);
  const std::string host = url.substr(host_start, port_colon - host_start);
  const int port = std::stoi(url.substr(port_colon + 1, slash - port_colon - 1));
  amqp_connection_state_t state = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  if (amqp_socket_open(socket, host.c_str(), port) != AMQP_STATUS_OK) throw std::runtime_error("raw: connect failed");
  expect(amqp_login(state, "/", 0, 131072, 30, AMQP_SASL_METHOD_PLAIN, user.c_str(), password.c_str()), "login");
  amqp_channel_open(state, 1);
  expect(amqp_get_rpc_reply(state), "channel.open");
  return state;
}

// `with_stream`: the exchange also routes to a stream, as mq's topics do (each message
// is then stored twice on the server: the same server-side work as mq).
void raw_pass(const mq::Config& config, std::size_t count, int pass, Topology topology, Times& times) {
  const bool with_stream = topology.stream;
  auto state = raw_connect(config);
  const std::string suffix = std::to_string(pass) + (with_stream ? ".s" : "") + (topology.priority ? ".p" : "");
  const std::string exchange = "bench.raw", queue = "bench.raw." + suffix, key = "bench.raw.events" + suffix;
  amqp_exchange_declare(state, 1, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                        amqp_empty_table);
  expect(amqp_get_rpc_reply(state), "exchange.declare");
  amqp_table_entry_t max_priority{amqp_cstring_bytes("x-max-priority"), {}};
  max_priority.value.kind = AMQP_FIELD_KIND_I8;
  max_priority.value.value.i8 = 9;
  amqp_queue_declare(state, 1, amqp_cstring_bytes(queue.c_str()), 0, 1, 0, 0,
                     topology.priority ? amqp_table_t{1, &max_priority} : amqp_empty_table);
  expect(amqp_get_rpc_reply(state), "queue.declare");
  amqp_queue_bind(state, 1, amqp_cstring_bytes(queue.c_str()), amqp_cstring_bytes(exchange.c_str()),
                  amqp_cstring_bytes(key.c_str()), amqp_empty_table);
  expect(amqp_get_rpc_reply(state), "queue.bind");
  const std::string stream = "bench.raw.stream." + suffix;
  if (with_stream) {
    amqp_table_entry_t type{amqp_cstring_bytes("x-queue-type"), {}};
    type.value.kind = AMQP_FIELD_KIND_UTF8;
    type.value.value.bytes = amqp_cstring_bytes("stream");
    amqp_queue_declare(state, 1, amqp_cstring_bytes(stream.c_str()), 0, 1, 0, 0, amqp_table_t{1, &type});
    expect(amqp_get_rpc_reply(state), "queue.declare (stream)");
    amqp_queue_bind(state, 1, amqp_cstring_bytes(stream.c_str()), amqp_cstring_bytes(exchange.c_str()),
                    amqp_cstring_bytes(key.c_str()), amqp_empty_table);
    expect(amqp_get_rpc_reply(state), "queue.bind (stream)");
  }
  amqp_confirm_select(state, 1);
  expect(amqp_get_rpc_reply(state), "confirm.select");

  const std::string value(value_bytes, 'x');
  amqp_basic_properties_t properties{};
  properties._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
  properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  const amqp_bytes_t body{value.size(), const_cast<char*>(value.data())};
  std::uint64_t published = 0;
  Stopwatch produce;
  for (std::size_t sent = 0; sent < count; sent += batch_size) {
    const auto size = std::min(batch_size, count - sent);
    for (std::size_t i = 0; i < size; ++i) {
      if (amqp_basic_publish(state, 1, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes(key.c_str()), 1, 0,
                             &properties, body) != AMQP_STATUS_OK) {
        throw std::runtime_error("raw: publish failed");
      }
    }
    const std::uint64_t last = published + size;
    std::uint64_t confirmed = published;
    while (confirmed < last) {
      amqp_frame_t frame;
      if (amqp_simple_wait_frame(state, &frame) != AMQP_STATUS_OK) throw std::runtime_error("raw: confirm wait failed");
      if (frame.frame_type != AMQP_FRAME_METHOD) continue;
      if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) throw std::runtime_error("raw: nack");
      if (frame.payload.method.id != AMQP_BASIC_ACK_METHOD) continue;
      const auto* ack = static_cast<const amqp_basic_ack_t*>(frame.payload.method.decoded);
      confirmed = std::max(confirmed, ack->delivery_tag);
    }
    published = last;
  }
  produce.done(times.produce);

  amqp_basic_qos(state, 1, 0, prefetch, 0);
  expect(amqp_get_rpc_reply(state), "basic.qos");
  Stopwatch consume;
  amqp_basic_consume(state, 1, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  expect(amqp_get_rpc_reply(state), "basic.consume");
  for (std::size_t received = 0; received < count;) {
    amqp_maybe_release_buffers(state);
    amqp_envelope_t envelope;
    const auto reply = amqp_consume_message(state, &envelope, nullptr, 0);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
      if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        amqp_frame_t frame;
        amqp_simple_wait_frame(state, &frame);  // a late confirm: not a delivery
        continue;
      }
      throw std::runtime_error("raw: consume failed");
    }
    amqp_basic_ack(state, 1, envelope.delivery_tag, 0);
    amqp_destroy_envelope(&envelope);
    ++received;
  }
  consume.done(times.consume);
  amqp_queue_delete(state, 1, amqp_cstring_bytes(queue.c_str()), 0, 0);
  expect(amqp_get_rpc_reply(state), "queue.delete");
  if (with_stream) {
    amqp_queue_delete(state, 1, amqp_cstring_bytes(stream.c_str()), 0, 0);
    expect(amqp_get_rpc_reply(state), "queue.delete (stream)");
  }
  amqp_connection_close(state, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(state);
}

// ---- mq ---------------------------------------------------------------------------------

// `plain`: config.url has ?max_priority=0 (the engine's group queues without priorities,
// the same server-side work as raw+stream); names differ from the other mq pass.
void mq_pass(const mq::Config& config, std::size_t count, int pass, bool plain, Times& times) {
  mq::Client client(config);
  const std::string name = std::to_string(pass) + (plain ? ".plain" : "");
  const std::string topic = "bench.mq.events" + name, group = "bench.mq" + name + ".group";
  client.admin().create_topic(topic);
  std::atomic<std::size_t> handled{0};
  mq::ConsumerOptions options = config.consumer;
  options.group = group;
  options.topics = {topic};
  options.workers = 1;
  options.poll_interval = std::chrono::milliseconds(10);
  const auto handler = [&handled, count](const mq::Message&) {
    // The waiting main thread is woken once, by the last message: polling it would add
    // its own wake-ups to mq's CPU per message.
    if (handled.fetch_add(1, std::memory_order_relaxed) + 1 == count) handled.notify_all();
    return mq::Outcome::ack();
  };
  client.consumer(options, handler).stop();  // the group's queue now exists and is bound

  const std::string value(value_bytes, 'x');
  std::vector<std::vector<mq::Message>> batches;
  for (std::size_t sent = 0; sent < count; sent += batch_size) {
    auto& batch = batches.emplace_back();
    for (std::size_t i = 0; i < std::min(batch_size, count - sent); ++i) batch.emplace_back(topic, value);
  }
  auto producer = client.producer();
  Stopwatch produce;
  for (auto& batch : batches) producer.send_batch(std::move(batch));
  produce.done(times.produce);

  Stopwatch consume;
  auto consumer = client.consumer(options, handler);
  for (auto seen = handled.load(); seen < count; seen = handled.load()) handled.wait(seen);
  consume.done(times.consume);
  consumer.stop(std::chrono::seconds(30));
  if (consumer.stats().acked != count) throw std::runtime_error("mq: consumer acked a wrong count");
  client.admin().delete_topic(topic);
}

// Wall msgs/s and client CPU µs per message (medians over the passes), mq first, then
// each raw variant with mq's ratios: throughput mq/it, and CPU per message mq/it.
void report(const char* what, std::size_t count, const Phase& mq_phase,
            const std::vector<std::pair<const char*, const Phase*>>& raws) {
  const auto n = static_cast<double>(count);
  const double mq_rate = n / median(mq_phase.wall), mq_cpu = 1e6 * median(mq_phase.cpu) / n;
  std::printf("%-27s mq %7.0f/s %6.1f us/msg", what, mq_rate, mq_cpu);
  for (const auto& [name, phase] : raws) {
    const double rate = n / median(phase->wall), cpu = 1e6 * median(phase->cpu) / n;
    std::printf(" | %s %7.0f/s %6.1f us/msg, mq/it %5.1f%% rate %5.1f%% cpu", name, rate, cpu, 100.0 * mq_rate / rate,
                100.0 * mq_cpu / cpu);
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) throw std::invalid_argument("usage: rabbitmq_bench URL [--messages N] [--repeat R] [--plain-url URL2] [--prefetch P]");
  std::size_t count = 100'000;
  int repeat = 3;
  std::string plain_url;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--messages") count = std::stoul(argv[i + 1]);
    else if (flag == "--repeat") repeat = std::max(1, std::stoi(argv[i + 1]));
    else if (flag == "--plain-url") plain_url = argv[i + 1];
    else if (flag == "--prefetch") prefetch = std::max(1, std::stoi(argv[i + 1]));
    else throw std::invalid_argument("unknown option " + flag);
  }
  auto config = mq::Config::defaults("development");
  const auto with_prefetch = [](std::string url) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "prefetch=" + std::to_string(prefetch);
  };
  config.url = with_prefetch(argv[1]);
  if (!plain_url.empty()) plain_url = with_prefetch(plain_url);
  std::printf("rabbitmq_bench: %s, %zu persistent messages of %zu bytes, batches of %zu, %d passes each, prefetch %d\n",
              mq::redact_url(config.url).c_str(), count, value_bytes, batch_size, repeat, prefetch);
  Times mq_times, mq_plain_times, raw_times, raw_stream_times, raw_all_times;
  for (int pass = 0; pass < repeat; ++pass) {
    mq_pass(config, count, pass, false, mq_times);
    if (!plain_url.empty()) {
      auto plain = config;
      plain.url = plain_url + (plain_url.find('?') == std::string::npos ? "?" : "&") + "max_priority=0";
      mq_pass(plain, count, pass, true, mq_plain_times);
    }
    raw_pass(config, count, pass, Topology{}, raw_times);
    raw_pass(config, count, pass, Topology{.stream = true}, raw_stream_times);
    raw_pass(config, count, pass, Topology{.stream = true, .priority = true}, raw_all_times);
  }
  report("produce, confirm per 1000", count, mq_times.produce,
         {{"raw", &raw_times.produce}, {"raw+stream", &raw_stream_times.produce},
          {"raw+stream+prio", &raw_all_times.produce}});
  report("consume, ack per message", count, mq_times.consume,
         {{"raw", &raw_times.consume}, {"raw+stream", &raw_stream_times.consume},
          {"raw+stream+prio", &raw_all_times.consume}});
  if (plain_url.empty()) return 0;
  std::printf("without priority queues (mq ?max_priority=0, raw+stream):\n");
  report("produce, confirm per 1000", count, mq_plain_times.produce, {{"raw+stream", &raw_stream_times.produce}});
  report("consume, ack per message", count, mq_plain_times.consume, {{"raw+stream", &raw_stream_times.consume}});
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "rabbitmq_bench: %s\n", error.what());
  return 1;
}
