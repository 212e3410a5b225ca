// mqctl bench: produce N messages to a scratch topic, consume them back, report rates.
//
// Live progress goes to stderr (one line rewritten in place); the final table (or
// --json) to stdout. The scratch topic mqctl.bench.<pid> is deleted at the end unless
// --keep; its group (same name) keeps its committed offsets, as every group does.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "common.hpp"

namespace mqctl {
namespace {

struct BenchArgs {
  std::uint64_t messages = 10'000;
  std::size_t size = 100;
  int partitions = 4;
  std::string topic;  // empty: mqctl.bench.<pid>
  bool keep = false;
  std::string timeout = "60s";
};

struct Phase {
  std::string name;
  std::uint64_t messages = 0;
  double seconds = 0;
};

using Clock = std::chrono::steady_clock;

// Waits until done() or the deadline, printing `count` every 200 ms. Returns the seconds taken.
template <typename Done>
double watch(const char* phase, const std::atomic<std::uint64_t>& count, std::uint64_t total, Clock::time_point start,
             Clock::time_point deadline, bool live, Done done) {
  while (!done() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the progress refresh period, not a wait on work
    if (!live) continue;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::fprintf(stderr, "\r%-8s %10llu / %llu  %10.0f msg/s", phase, static_cast<unsigned long long>(count.load()),
                 static_cast<unsigned long long>(total), seconds > 0 ? count.load() / seconds : 0.0);
    std::fflush(stderr);
  }
  if (live) std::fprintf(stderr, "\n");
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string fixed(double value, int digits) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(digits) << value;
  return text.str();
}

int bench(const Globals& globals, const BenchArgs& args) {
  const auto timeout = parse_duration(args.timeout, "--timeout");
  const std::string topic = args.topic.empty() ? "mqctl.bench." + std::to_string(::getpid()) : args.topic;
  auto client = connect(globals);
  auto admin = client.admin();
  mq::TopicOptions options;
  options.partitions = args.partitions;
  admin.create_topic(topic, options);
  const bool live = !globals.json;
  const std::string payload(args.size, 'x');
  const auto deadline = Clock::now() + timeout;

  std::atomic<std::uint64_t> sent{0}, failed{0};
  auto producer = client.producer();
  auto produce_start = Clock::now();
  std::thread sender([&] {
    for (std::uint64_t i = 0; i < args.messages; ++i) {
      producer.send_async(mq::Message(topic, std::to_string(i % 1024), payload), [&](const mq::Status& status, const mq::Receipt&) {
        (status.ok() ? sent : failed).fetch_add(1);
      });
    }
  });
  const double produce_seconds = watch("produce", sent, args.messages, produce_start, deadline, live,
                                       [&] { return sent + failed >= args.messages; });
  sender.join();
  producer.flush(timeout);

  std::atomic<std::uint64_t> received{0};
  mq::ConsumerOptions consumer_options = client.config().consumer;
  consumer_options.group = topic;
  consumer_options.topics = {topic};
  consumer_options.start = mq::StartPosition::earliest;
  auto consume_start = Clock::now();
  auto consumer = client.consumer(consumer_options, [&](const mq::Message&) {
    received.fetch_add(1);
    return mq::Outcome::ack();
  });
  const double consume_seconds = watch("consume", received, sent.load(), consume_start, deadline, live,
                                       [&] { return received >= sent.load(); });
  consumer.stop(std::chrono::seconds(10));
  if (!args.keep) admin.delete_topic(topic);

  const Phase phases[] = {{"produce", sent.load(), produce_seconds}, {"consume", received.load(), consume_seconds}};
  const double megabytes = static_cast<double>(args.size) / (1024.0 * 1024.0);
  json out = {{"url", client.url()}, {"topic", topic}, {"size", args.size}, {"failed", failed.load()}};
  Table table({"PHASE", ">MESSAGES", ">SECONDS", ">MSG/S", ">MB/S"});
  for (const auto& phase : phases) {
    const double rate = phase.seconds > 0 ? phase.messages / phase.seconds : 0;
    out[phase.name] = {{"messages", phase.messages}, {"seconds", phase.seconds}, {"messages_per_second", rate}};
    table.add({phase.name, std::to_string(phase.messages), fixed(phase.seconds, 3), fixed(rate, 0),
               fixed(rate * megabytes, 2)});
  }
  if (globals.json) {
    print_json(out);
  } else {
    std::cout << "bench " << client.url() << ": " << args.messages << " messages of " << args.size << " bytes\n";
    table.print(std::cout);
  }
  const bool complete = failed == 0 && sent == args.messages && received >= args.messages;
  if (!complete) std::cerr << "mqctl: bench incomplete (" << failed.load() << " failed sends, timeout " << args.timeout << ")\n";
  return complete ? exit_ok : exit_connection;
}

}  // namespace

void add_bench_command(CLI::App& app, Globals& globals, Action& action) {
  auto args = std::make_shared<BenchArgs>();
  auto* command = app.add_subcommand("bench", "Produce and consume a load, with a live progress line and a final table");
  command->add_option("-n,--messages", args->messages, "Messages to send (default 10000)")->check(CLI::PositiveNumber);
  command->add_option("-s,--size", args->size, "Value size in bytes (default 100)");
  command->add_option("-p,--partitions", args->partitions, "Partitions of the scratch topic (default 4)")
      ->check(CLI::PositiveNumber);
  command->add_option("--topic", args->topic, "Topic to use (default: mqctl.bench.<pid>, created and deleted)");
  command->add_flag("--keep", args->keep, "Keep the topic afterwards");
  command->add_option("--timeout", args->timeout, "Give up after this long (default 60s)");
  add_json_flag(*command, globals);
  command->callback([&globals, &action, args] { action = [&globals, args] { return bench(globals, *args); }; });
}

}  // namespace mqctl
