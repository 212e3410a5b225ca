// A child process for the embedded engine's multi-process, crash and full-disk tests.
// It uses the engine interface directly so that each test controls exactly what is
// appended, acknowledged and acked. Modes (argv[1]):
//   write DIR TOPIC PARTITION COUNT TAG [PRIORITY]
//                                         append COUNT messages "TAG-i" one by one
//   produce-acked DIR TOPIC ACKFILE       fsync always: append forever; after each
//                                         acknowledged batch, add its values to ACKFILE
//   consume DIR GROUP TOPIC OUTFILE       join GROUP; write "value\n" per record, then ack
//   fsize DIR LIMIT                       RLIMIT_FSIZE=LIMIT; append until an error;
//                                         print "acked N" and the error
//   delay DIR TOPIC COUNT DELAY_MS        send COUNT delayed messages, print "stored",
//                                         then wait to be killed
//   latency DIR TOPIC COUNT               COUNT messages 20 ms apart, value = send time ns
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.hpp"

using namespace mq;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<core::Engine> open(const std::string& dir, FsyncPolicy fsync) {
  Config config;
  config.embedded.fsync = fsync;
  config.default_partitions = 1;
  return core::open_engine("embedded://" + dir, config);
}

std::vector<core::AppendResult> append(core::Engine& engine, std::vector<core::Envelope> batch, Acks acks) {
  std::promise<std::vector<core::AppendResult>> promise;
  auto future = promise.get_future();
  engine.append(std::move(batch), acks, [&](std::vector<core::AppendResult>&& results) { promise.set_value(std::move(results)); });
  return future.get();
}

core::Envelope envelope(const std::string& topic, std::string value, int partition = -1) {
  core::Envelope envelope;
  envelope.message.topic = topic;
  envelope.message.id = "id-" + value;
  envelope.message.value = std::move(value);
  envelope.message.timestamp = Clock::now();
  envelope.message.partition = partition;
  return envelope;
}

void write_line(int fd, const std::string& text) {
  const std::string line = text + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::_Exit(3);
}

int write_mode(char** argv) {
  auto engine = open(argv[2], FsyncPolicy::never);
  const int partition = std::stoi(argv[4]);
  const int count = std::stoi(argv[5]);
  const int priority = argv[7] ? std::stoi(argv[7]) : 0;
  for (int i = 0; i < count; ++i) {
    std::vector<core::Envelope> batch;
    batch.push_back(envelope(argv[3], std::string(argv[6]) + "-" + std::to_string(i), partition));
    batch.back().message.priority = priority;
    if (!append(*engine, std::move(batch), Acks::leader).front().status.ok()) return 2;
  }
  engine->close();
  return 0;
}

int produce_acked_mode(char** argv) {
  auto engine = open(argv[2], FsyncPolicy::always);
  const int acks = ::open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  // Values continue after the pid so that every cycle's values are distinct.
  const std::string prefix = std::to_string(::getpid()) + "-";
  for (long next = 0;; ) {
    std::vector<core::Envelope> batch;
    const int size = 1 + static_cast<int>(next % 8);
    for (int i = 0; i < size; ++i) batch.push_back(envelope(argv[3], prefix + std::to_string(next + i), 0));
    const auto results = append(*engine, std::move(batch), Acks::all);
    std::string acked;
    for (int i = 0; i < size; ++i) {
      if (!results[static_cast<std::size_t>(i)].status.ok()) return 2;
      acked += prefix + std::to_string(next + i) + (i + 1 < size ? "\n" : "");
    }
    write_line(acks, acked);  // only after the engine acknowledged it durably
    next += size;
  }
}

int consume_mode(char** argv) {
  auto engine = open(argv[2], FsyncPolicy::interval);
  const int out = ::open(argv[5], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto subscription = engine->subscribe(core::SubscriptionSpec{argv[3], {argv[4]}, StartPosition::earliest});
  for (;;) {
    for (const auto& record : subscription->poll(100, 100ms)) {
      write_line(out, record.message.value);
      subscription->ack(record);
    }
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGTERM)) break;
  }
  subscription->close();
  return 0;
}

int fsize_mode(char** argv) {
  ::signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG instead of killing us
  auto engine = open(argv[2], FsyncPolicy::always);
  rlimit limit{std::stoul(argv[3]), std::stoul(argv[3])};
  ::setrlimit(RLIMIT_FSIZE, &limit);
  for (int acked = 0;; ++acked) {
    std::vector<core::Envelope> batch;
    batch.push_back(envelope("full", std::to_string(acked) + std::string(1000, 'x'), 0));
    const auto results = append(*engine, std::move(batch), Acks::all);
    if (!results.front().status.ok()) {
      std::printf("acked %d\n%s\n", acked, results.front().status.to_string().c_str());
      return 0;
    }
  }
}

int delay_mode(char** argv) {
  auto engine = open(argv[2], FsyncPolicy::always);
  const int count = std::stoi(argv[4]);
  const auto due = Clock::now() + std::chrono::milliseconds(std::stoi(argv[5]));
  std::vector<core::Envelope> batch;
  for (int i = 0; i < count; ++i) {
    batch.push_back(envelope(argv[3], "delayed-" + std::to_string(i)));
    batch.back().due = due;
  }
  for (const auto& result : append(*engine, std::move(batch), Acks::all)) {
    if (!result.status.ok()) return 2;
  }
  std::printf("stored\n");
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(1h);
}

int latency_mode(char** argv) {
  auto engine = open(argv[2], FsyncPolicy::never);
  const int count = std::stoi(argv[4]);
  for (int i = 0; i < count; ++i) {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
    std::vector<core::Envelope> batch;
    batch.push_back(envelope(argv[3], std::to_string(now), 0));
    if (!append(*engine, std::move(batch), Acks::leader).front().status.ok()) return 2;
    std::this_thread::sleep_for(20ms);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 64;
  const std::string mode = argv[1];
  // SIGTERM is read by the consume loop: block it before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  if (mode == "consume") pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    if (mode == "write" && (argc == 7 || argc == 8)) return write_mode(argv);
    if (mode == "produce-acked" && argc == 5) return produce_acked_mode(argv);
    if (mode == "consume" && argc == 6) return consume_mode(argv);
    if (mode == "fsize" && argc == 4) return fsize_mode(argv);
    if (mode == "delay" && argc == 6) return delay_mode(argv);
    if (mode == "latency" && argc == 5) return latency_mode(argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "helper %s: %s\n", mode.c_str(), error.what());
    return 1;
  }
  return 64;
}
