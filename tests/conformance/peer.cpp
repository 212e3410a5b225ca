// A second process for the conformance cases that need one (C08, C12, C19): it joins
// a group or produces, and records what it did in a file, one line per message, written
// with write(2) so that a SIGKILL loses nothing already recorded.
//
//   mq_conformance_peer consume URL GROUP TOPIC OUTFILE [BLOCK_VALUE]
//     One worker, start at earliest. Appends each value before acking it. On
//     BLOCK_VALUE it records the value and then never returns from the handler.
//     SIGTERM stops it gracefully (exit 0).
//   mq_conformance_peer produce-delayed URL TOPIC OUTFILE COUNT CORE_SCHEDULER
//     Sends COUNT messages with send_after(1 s + 20 ms * i), recording "ID DUE_MS" for
//     each once its send returned, then "#sent", then waits to be killed. CORE_SCHEDULER
//     "1" sets Config::core_delay_scheduler.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "mq/mq.hpp"

namespace {

void append_line(int file, const std::string& text) {
  const std::string line = text + "\n";
  if (::write(file, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::abort();
}

int consume(const std::string& url, const std::string& group, const std::string& topic, const std::string& path,
            const std::string& block_value) {
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (file < 0) return 3;
  mq::Client client(url);
  mq::ConsumerOptions options = client.config().consumer;
  options.group = group;
  options.topics = {topic};
  options.workers = 1;
  options.start = mq::StartPosition::earliest;
  options.poll_interval = std::chrono::milliseconds(50);
  auto consumer = client.consumer(options, [&](const mq::Message& message) {
    append_line(file, message.value);
    if (!block_value.empty() && message.value == block_value) {
      while (true) std::this_thread::sleep_for(std::chrono::hours(1));  // until SIGKILL
    }
    return mq::Outcome::ack();
  });
  append_line(file, "#joined");
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  int received = 0;
  sigwait(&signals, &received);
  consumer.stop(std::chrono::seconds(30));
  ::close(file);
  return 0;
}

int produce_delayed(const std::string& url, const std::string& topic, const std::string& path, int count,
                    bool core_scheduler) {
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (file < 0) return 3;
  auto config = mq::Config::defaults("development");
  config.url = url;
  config.core_delay_scheduler = core_scheduler;
  mq::Client client(config);
  auto producer = client.producer();
  for (int i = 0; i < count; ++i) {
    const auto delay = std::chrono::milliseconds(1000 + 20 * i);
    const auto receipt = producer.send_after(mq::Message(topic, std::to_string(i)), delay);
    const auto due_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(receipt.due->time_since_epoch()).count();
    append_line(file, receipt.id + " " + std::to_string(due_ms));
  }
  append_line(file, "#sent");
  while (true) std::this_thread::sleep_for(std::chrono::hours(1));  // until SIGKILL
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM is taken by sigwait: block it before any thread starts so none gets it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "consume" && (argc == 6 || argc == 7)) {
      return consume(argv[2], argv[3], argv[4], argv[5], argc == 7 ? argv[6] : "");
    }
    if (mode == "produce-delayed" && argc == 7) {
      return produce_delayed(argv[2], argv[3], argv[4], std::stoi(argv[5]), std::string(argv[6]) == "1");
    }
    std::fprintf(stderr,
                 "usage: %s consume URL GROUP TOPIC OUTFILE [BLOCK_VALUE]\n"
                 "       %s produce-delayed URL TOPIC OUTFILE COUNT CORE_SCHEDULER\n",
                 argv[0], argv[0]);
    return 2;
  } catch (const mq::Error& error) {
    std::fprintf(stderr, "peer: %s\n", error.what());
    return 1;
  }
}
