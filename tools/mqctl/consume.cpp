// mqctl consume TOPIC... --group G, and mqctl tail TOPIC...: print messages.
//
// consume is a member of a named group: it acks, so the group moves on.
// tail follows new messages only. The public API has no group-less read, so tail uses
// one reused group per user (mqctl.tail.<user>, or --group) starting at the latest
// offset, and acks messages stamped before the tail started without printing them:
// what remains after a tail is that one group's committed offsets, overwritten by the
// next tail, never one group per run. Two tails of the same user at once split the
// messages: give the second its own --group.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <mutex>

#include "common.hpp"

namespace mqctl {
namespace {

struct ConsumeArgs {
  std::vector<std::string> topics;
  std::string group;
  std::string from;       // "", "earliest" or "latest"; empty: the config's consumer.start
  std::uint64_t max = 0;  // 0: no limit
  std::string timeout;    // empty: no idle limit
  bool reject = false;    // dead-letter every message instead of acking it
  bool tail = false;
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

void print_message(const mq::Message& message, bool as_json) {
  if (as_json) {
    std::cout << dump_json(to_json(message)) << '\n';  // one object per line (NDJSON)
  } else {
    std::cout << message.topic << '\t' << message.partition << '\t' << message.offset << '\t'
              << (message.key ? *message.key : std::string()) << '\t' << message.value << '\n';
  }
  std::cout.flush();  // a pipe reader (grep, a test) sees each message at once
}

std::string tail_group() {
  const char* user = std::getenv("USER");
  std::string name = user && *user ? user : std::to_string(::getuid());
  for (auto& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return "mqctl.tail." + name;
}

int consume(const Globals& globals, const ConsumeArgs& args) {
  const auto idle_limit = args.timeout.empty() ? std::chrono::milliseconds::max()
                                               : parse_duration(args.timeout, "--timeout");
  mq::Config config = load_config(globals);
  mq::ConsumerOptions options = config.consumer;
  options.group = args.group.empty() ? tail_group() : args.group;
  options.topics = args.topics;
  if (args.tail) options.start = mq::StartPosition::latest;
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
  const auto started = mq::Clock::now();

  mq::Client client(config.url, config);
  Progress progress;
  auto handler = [&progress, &args, &globals, started](const mq::Message& message) {
    if (args.tail && message.timestamp < started) return mq::Outcome::ack();  // older than this tail
    {
      std::lock_guard lock(progress.mutex);
      if (args.max > 0 && progress.printed >= args.max) return mq::Outcome::retry("mqctl: past --max");
      print_message(message, globals.json);
      ++progress.printed;
      progress.last = std::chrono::steady_clock::now();
    }
    progress.changed.notify_all();
    return args.reject ? mq::Outcome::dead_letter("rejected by mqctl consume --reject") : mq::Outcome::ack();
  };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto consumer = client.consumer(options, handler);
  std::cerr << (args.tail ? "tailing" : "consuming") << " as group " << options.group << " (" << client.url()
            << ")\n";
  {
    std::unique_lock lock(progress.mutex);
    // Idle time counts from here: joining a group can take seconds (Kafka holds a new
    // group's first assignment for group.initial.rebalance.delay.ms).
    if (progress.printed == 0) progress.last = std::chrono::steady_clock::now();
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
  return exit_ok;
}

void add_common_options(CLI::App& command, ConsumeArgs& args, Globals& globals) {
  command.add_option("topics", args.topics, "Topic names or patterns (order.*, order.#)")->required();
  command.add_option("--max", args.max, "Exit after this many messages (0: no limit)");
  command.add_option("--timeout", args.timeout, "Exit when no message came for this long (e.g. 5s)");
  command.add_flag("--json", globals.json, "Print one JSON object per message (with id and headers)");
}

}  // namespace

void add_consume_commands(CLI::App& app, Globals& globals, Action& action) {
  auto args = std::make_shared<ConsumeArgs>();
  auto* consume_cmd = app.add_subcommand(
      "consume", "Print messages (topic, partition, offset, key, value; tab-separated) as a member of a group");
  add_common_options(*consume_cmd, *args, globals);
  consume_cmd->add_option("-g,--group", args->group, "Consumer group (e.g. billing.charge.group)")->required();
  consume_cmd->add_option("--from", args->from, "Start of a group with no committed position (default: config)")
      ->check(CLI::IsMember({"earliest", "latest"}));
  consume_cmd->add_flag("--reject", args->reject,
                        "Move every message to the group's dead-letter topic instead of acking it");
  consume_cmd->callback([&globals, &action, args] {
    action = [&globals, args] { return consume(globals, *args); };
  });

  auto tail_args = std::make_shared<ConsumeArgs>();
  tail_args->tail = true;
  auto* tail_cmd = app.add_subcommand(
      "tail", "Follow new messages (sent after the tail started) without moving any application group");
  add_common_options(*tail_cmd, *tail_args, globals);
  tail_cmd->add_option("-g,--group", tail_args->group, "Group to follow with (default: mqctl.tail.<user>)");
  tail_cmd->callback([&globals, &action, tail_args] {
    action = [&globals, tail_args] { return consume(globals, *tail_args); };
  });
}

}  // namespace mqctl
