// mqctl consume TOPIC_OR_PATTERN... --group G: prints messages as a group member.
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <limits>
#include <mutex>

#include "common.hpp"

namespace mqctl {
namespace {

struct ConsumeArgs {
  std::vector<std::string> topics;
  std::string group;
  std::string from;     // "", "earliest" or "latest"; empty: the config's consumer.start
  std::uint64_t max = 0;  // 0: no limit
  std::string timeout;  // empty: no idle limit
};

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_signal(int) { interrupted = 1; }

// Shared by the handler (worker thread) and the main thread that decides when to stop.
struct Progress {
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t printed = 0;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
};

void print_message(const mq::Message& message) {
  std::cout << message.topic << '\t' << message.partition << '\t' << message.offset << '\t'
            << (message.key ? *message.key : std::string()) << '\t' << message.value << '\n';
}

int consume(const Globals& globals, const ConsumeArgs& args) {
  const auto idle_limit = args.timeout.empty() ? std::chrono::milliseconds::max()
                                               : parse_duration(args.timeout, "--timeout");
  mq::Config config = load_config(globals);
  mq::ConsumerOptions options = config.consumer;
  options.group = args.group;
  options.topics = args.topics;
  if (!args.from.empty()) options.start = args.from == "earliest" ? mq::StartPosition::earliest : mq::StartPosition::latest;
  // One worker keeps the output in delivery order and lets --max be exact.
  options.workers = 1;
  // Messages fetched past --max must reach the group again, not be acked and not be
  // dead-lettered. The handler hands them back as a retry whose backoff outlives this
  // process: stop() then drops the pending retry unacked (see Consumer::stop).
  if (args.max > 0) {
    options.retry.max_attempts = std::numeric_limits<int>::max();
    options.retry.initial_backoff = std::chrono::hours(24);
    options.retry.max_backoff = std::chrono::hours(24);
    options.retry.jitter = 0.0;
  }

  mq::Client client(config.url, config);
  Progress progress;
  auto handler = [&progress, &args](const mq::Message& message) {
    {
      std::lock_guard lock(progress.mutex);
      if (args.max > 0 && progress.printed >= args.max) return mq::Outcome::retry("mqctl: past --max");
      print_message(message);
      ++progress.printed;
      progress.last = std::chrono::steady_clock::now();
    }
    progress.changed.notify_all();
    return mq::Outcome::ack();
  };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto consumer = client.consumer(options, handler);
  {
    std::unique_lock lock(progress.mutex);
    while (!interrupted && !(args.max > 0 && progress.printed >= args.max)) {
      const auto now = std::chrono::steady_clock::now();
      if (idle_limit != std::chrono::milliseconds::max() && now - progress.last >= idle_limit) break;
      // Wake at least every 100 ms to notice a signal.
      progress.changed.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  std::cout.flush();
  const bool clean = consumer.stop(options.stop_timeout);
  std::cerr << "consumed " << progress.printed << (progress.printed == 1 ? " message" : " messages") << " from "
            << client.url() << (clean ? "" : " (stop deadline passed)") << '\n';
  return 0;
}

}  // namespace

void add_consume_command(CLI::App& app, const Globals& globals, Action& action) {
  auto args = std::make_shared<ConsumeArgs>();
  auto* consume_cmd = app.add_subcommand(
      "consume", "Print messages (topic, partition, offset, key, value; tab-separated) as a member of a group");
  consume_cmd->add_option("topics", args->topics, "Topic names or patterns (order.*, order.#)")->required();
  consume_cmd->add_option("-g,--group", args->group, "Consumer group (e.g. billing.charge.group)")->required();
  consume_cmd->add_option("--from", args->from, "Start of a group with no committed position (default: config)")
      ->check(CLI::IsMember({"earliest", "latest"}));
  consume_cmd->add_option("--max", args->max, "Exit after this many messages (0: no limit)");
  consume_cmd->add_option("--timeout", args->timeout, "Exit when no message came for this long (e.g. 5s)");
  consume_cmd->callback([&globals, &action, args] {
    action = [&globals, args] { return consume(globals, *args); };
  });
}

}  // namespace mqctl
