// Several processes on one data dir (fork/exec of mq_embedded_helper): concurrent
// writers, a consumer group split across processes surviving SIGKILL, cross-process
// wake-up latency, the SIGKILL crash test, a full disk (RLIMIT_FSIZE) and durable delay.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/engine.hpp"
#include "engines/embedded/partition_log.hpp"
#include "engines/embedded/partition_reader.hpp"
#include "test_support.hpp"

namespace mq::engines::embedded {
namespace {

using namespace std::chrono_literals;
using test::TempDir;
using test::wait_until;

// A running helper process; killed (SIGKILL) and reaped on destruction if still alive.
class Helper {
 public:
  explicit Helper(std::vector<std::string> arguments) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipe_fds[1], 1);
      std::vector<char*> argv;
      arguments.insert(arguments.begin(), MQ_EMBEDDED_HELPER);
      for (auto& argument : arguments) argv.push_back(argument.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    output_ = pipe_fds[0];
  }
  ~Helper() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    ::close(output_);
  }
  void signal(int number) { ::kill(pid_, number); }
  // Exit status (or 128 + signal).
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // Reads stdout until `text` appears or the helper closes it.
  std::string read_until(const std::string& text) {
    char buffer[4096];
    while (collected_.find(text) == std::string::npos) {
      const ssize_t got = ::read(output_, buffer, sizeof buffer);
      if (got <= 0) break;
      collected_.append(buffer, static_cast<std::size_t>(got));
    }
    return collected_;
  }

 private:
  pid_t pid_ = -1;
  int output_ = -1;
  bool exited_ = false;
  std::string collected_;
};

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::shared_ptr<core::Engine> open_engine(const std::string& dir, int partitions = 1) {
  Config config;
  config.default_partitions = partitions;
  config.embedded.fsync = FsyncPolicy::never;
  return core::open_engine("embedded://" + dir, config);
}

// Sends in appends of 100: keyless appends go round-robin over the partitions.
void send(core::Engine& engine, const std::string& topic, int count, const std::string& prefix) {
  for (int first = 0; first < count; first += 100) {
    std::vector<core::Envelope> batch;
    for (int i = first; i < std::min(count, first + 100); ++i) {
      core::Envelope envelope;
      envelope.message.topic = topic;
      envelope.message.value = prefix + std::to_string(i);
      envelope.message.id = envelope.message.value;
      envelope.message.timestamp = Clock::now();
      batch.push_back(std::move(envelope));
    }
    bool ok = false;
    engine.append(std::move(batch), Acks::leader, [&](std::vector<core::AppendResult>&& results) {
      ok = std::all_of(results.begin(), results.end(), [](const auto& result) { return result.status.ok(); });
    });
    ASSERT_TRUE(ok);
  }
}

TEST(ProcessTest, FourWriterProcessesAppendToOnePartitionWithoutLoss) {
  TempDir dir;
  open_engine(dir.path())->create_topic("shared", TopicOptions{.partitions = 1});
  std::vector<std::unique_ptr<Helper>> writers;
  for (int w = 0; w < 4; ++w) {
    writers.push_back(std::make_unique<Helper>(
        std::vector<std::string>{"write", dir.path(), "shared", "0", "500", "w" + std::to_string(w)}));
  }
  for (auto& writer : writers) ASSERT_EQ(writer->wait(), 0);
  const auto records = test::read_all(dir.path() + "/topics/shared/0");
  ASSERT_EQ(records.size(), 2000u);
  std::map<std::string, int> next_of_writer;
  for (std::size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].offset, static_cast<std::int64_t>(i));
    const auto& value = records[i].message.value;
    const auto dash = value.find('-');
    // Each writer's messages appear once each, in its own order.
    EXPECT_EQ(std::stoi(value.substr(dash + 1)), next_of_writer[value.substr(0, dash)]++);
  }
  EXPECT_EQ(next_of_writer.size(), 4u);
}

TEST(ProcessTest, GroupSplitsAcrossProcessesAndTakesOverFromAKilledMember) {
  TempDir dir;
  TempDir outputs;  // not in the data dir: a foreign file there is refused
  auto engine = open_engine(dir.path(), 4);
  engine->create_topic("work", TopicOptions{.partitions = 4});
  const std::string out1 = outputs.path() + "/out1";
  const std::string out2 = outputs.path() + "/out2";
  Helper first({"consume", dir.path(), "workers", "work", out1});
  Helper second({"consume", dir.path(), "workers", "work", out2});
  // Both members must have joined before the work arrives; otherwise the first can
  // finish all of it before the second is there to share it.
  ASSERT_TRUE(wait_until(
      [&] {
        try {
          return engine->describe_group("workers").members == 2;
        } catch (const Error&) {
          return false;  // the group does not exist until a member registers
        }
      },
      30s));
  send(*engine, "work", 2000, "a");
  ASSERT_TRUE(wait_until([&] { return lines_of(out1).size() + lines_of(out2).size() >= 2000; }, 60s));
  ASSERT_TRUE(wait_until([&] { return engine->describe_group("workers").total_lag() == 0; }, 30s));
  const auto handled_first = lines_of(out1).size();
  const auto handled_second = lines_of(out2).size();
  EXPECT_EQ(handled_first + handled_second, 2000u) << "handled twice";
  EXPECT_GT(handled_first, 0u);
  EXPECT_GT(handled_second, 0u);

  first.signal(SIGKILL);
  first.wait();
  send(*engine, "work", 1000, "b");
  ASSERT_TRUE(wait_until([&] { return lines_of(out2).size() >= handled_second + 1000; }, 30s))
      << "the survivor did not take over the killed member's partitions";
  std::vector<std::string> all = lines_of(out1);
  for (auto& line : lines_of(out2)) all.push_back(line);
  const std::set<std::string> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.size(), 3000u) << "lost";
  EXPECT_EQ(all.size(), 3000u) << "duplicated";
  second.signal(SIGTERM);
  EXPECT_EQ(second.wait(), 0);
}

// Writer processes racing to create the same lane: one rename wins, both append to it.
TEST(ProcessTest, WriterProcessesRacingToCreateALaneShareIt) {
  TempDir dir;
  open_engine(dir.path())->create_topic("raced", TopicOptions{.partitions = 1});
  std::vector<std::unique_ptr<Helper>> writers;
  for (int w = 0; w < 3; ++w) {
    writers.push_back(std::make_unique<Helper>(
        std::vector<std::string>{"write", dir.path(), "raced", "0", "200", "w" + std::to_string(w), "4"}));
  }
  for (auto& writer : writers) ASSERT_EQ(writer->wait(), 0);
  const auto records = test::read_all(dir.path() + "/topics/raced/0.p4");
  ASSERT_EQ(records.size(), 600u);
  for (std::size_t i = 0; i < records.size(); ++i) EXPECT_EQ(records[i].offset, static_cast<std::int64_t>(i));
  EXPECT_TRUE(test::read_all(dir.path() + "/topics/raced/0").empty());
}

// A priority lane made by another process while this member owns the partition: the
// member finds it (inotify on the topic dir) and reads it before the backlog.
TEST(ProcessTest, AMemberReadsALaneAnotherProcessCreatedFirstAndBeforeTheBacklog) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("mixed", TopicOptions{.partitions = 1});
  auto subscription = engine->subscribe(core::SubscriptionSpec{"g", {"mixed"}, StartPosition::earliest});
  EXPECT_TRUE(subscription->poll(10, 200ms).empty());  // owns the partition; no lane exists
  Helper low({"write", dir.path(), "mixed", "0", "50", "low", "0"});
  ASSERT_EQ(low.wait(), 0);
  Helper high({"write", dir.path(), "mixed", "0", "5", "high", "9"});
  ASSERT_EQ(high.wait(), 0);
  std::vector<core::Record> records;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (records.size() < 55 && std::chrono::steady_clock::now() < deadline) {
    for (auto& record : subscription->poll(10, 100ms)) {
      subscription->ack(record);
      records.push_back(std::move(record));
    }
  }
  ASSERT_EQ(records.size(), 55u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(records[i].message.value, "high-" + std::to_string(i)) << "the lane waited behind the backlog";
  }
  std::set<std::string> distinct;
  for (const auto& record : records) distinct.insert(record.message.value);
  EXPECT_EQ(distinct.size(), 55u);
  EXPECT_TRUE(wait_until(
      [&] {
        subscription->poll(0, 5ms);
        return engine->describe_group("g").total_lag() == 0;
      },
      5s));
  subscription->close();
}

TEST(ProcessTest, ConsumerWakesPromptlyOnAnotherProcesssAppend) {
  TempDir dir;
  auto engine = open_engine(dir.path());
  engine->create_topic("latency", TopicOptions{.partitions = 1});
  auto subscription = engine->subscribe(core::SubscriptionSpec{"lat", {"latency"}, StartPosition::earliest});
  subscription->poll(10, 10ms);  // joins and claims
  Helper producer({"latency", dir.path(), "latency", "100"});
  std::vector<double> latencies_ms;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (latencies_ms.size() < 100 && std::chrono::steady_clock::now() < deadline) {
    for (const auto& record : subscription->poll(100, 1000ms)) {
      const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
      latencies_ms.push_back(static_cast<double>(now - std::stoll(record.message.value)) / 1e6);
      subscription->ack(record);
    }
  }
  EXPECT_EQ(producer.wait(), 0);
  ASSERT_EQ(latencies_ms.size(), 100u);
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::printf("cross-process wake-up latency (append to poll return): p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              latencies_ms[50], latencies_ms[98], latencies_ms[99]);
  EXPECT_LT(latencies_ms[50], 50.0);  // inotify, not a polling interval
  subscription->close();
}

// One SIGKILL cycle count for ctest; scripts/embedded_crash_test.sh runs 200 and more.
int crash_cycles() {
  const char* value = std::getenv("MQ_CRASH_CYCLES");
  return value ? std::max(1, std::atoi(value)) : 10;
}

TEST(ProcessTest, CrashTestProducerKilledAtRandomPointsLosesNoAcknowledgedMessage) {
  TempDir dir;
  const std::string acked_path = dir.path() + "/acked";
  const std::string partition = dir.path() + "/data/topics/crash/0";
  std::mt19937 random(std::random_device{}());
  std::size_t total_acknowledged = 0;
  for (int cycle = 0; cycle < crash_cycles(); ++cycle) {
    {
      Helper producer({"produce-acked", dir.path() + "/data", "crash", acked_path});
      // The run must acknowledge something for the check to mean anything, but under
      // load (an ASan process starting, fdatasync on a shared disk) no cycle's 30-400 ms
      // may reach the first acknowledgement (seen in a repeated run at load ~10). The
      // last cycle waits for that condition first if it has not happened yet; its kill
      // still lands at a random point after it.
      if (cycle == crash_cycles() - 1 && lines_of(acked_path).empty()) {
        ASSERT_TRUE(wait_until([&] { return !lines_of(acked_path).empty(); }, 30s)) << "no acknowledgement in 30 s";
      }
      // The kill lands anywhere: during open/recovery, a write, an fdatasync or a roll.
      std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 400)(random)));
      producer.signal(SIGKILL);
      producer.wait();
    }
    if (::access(partition.c_str(), F_OK) != 0) continue;  // killed before the topic existed
    // Recovery as the next writer would do it, then the whole log must read back.
    PartitionLog log(partition, LogOptions{});
    const std::int64_t end = log.end_offset();
    const auto records = test::read_all(partition);
    ASSERT_EQ(static_cast<std::int64_t>(records.size()), end) << "cycle " << cycle;
    std::set<std::string> stored;
    for (const auto& record : records) {
      ASSERT_TRUE(stored.insert(record.message.value).second) << "stored twice: " << record.message.value;
    }
    const auto acknowledged = lines_of(acked_path);
    for (const auto& value : acknowledged) {
      ASSERT_TRUE(stored.count(value)) << "cycle " << cycle << ": acknowledged " << value << " was lost";
    }
    total_acknowledged = acknowledged.size();
  }
  std::printf("crash test: %d SIGKILL cycles, %zu acknowledged messages, all read back once\n", crash_cycles(),
              total_acknowledged);
  EXPECT_GT(total_acknowledged, 0u);
}

TEST(ProcessTest, FileSizeLimitFailsTheAppendAndKeepsEverythingAcknowledged) {
  TempDir dir;
  Helper filler({"fsize", dir.path(), "65536"});
  const std::string output = filler.read_until("\n" /* first line */ ) + filler.read_until("exceeded");
  EXPECT_EQ(filler.wait(), 0);
  const auto acked = std::stoi(output.substr(output.find("acked ") + 6));
  EXPECT_GT(acked, 10);
  EXPECT_NE(output.find("io: "), std::string::npos) << output;
  EXPECT_NE(output.find("file size limit exceeded"), std::string::npos) << output;
  const std::string partition = dir.path() + "/topics/full/0";
  PartitionLog log(partition, LogOptions{});
  EXPECT_EQ(log.end_offset(), acked);
  const auto records = test::read_all(partition);
  ASSERT_EQ(records.size(), static_cast<std::size_t>(acked));
  for (int i = 0; i < acked; ++i) {
    EXPECT_EQ(records[static_cast<std::size_t>(i)].message.value, std::to_string(i) + std::string(1000, 'x'));
  }
  EXPECT_EQ(test::append_values(log, "after", 1), acked);  // writable again without the limit
}

TEST(ProcessTest, DelayedMessagesSurviveAKilledProducerAndArriveOnce) {
  TempDir dir;
  open_engine(dir.path())->create_topic("later", TopicOptions{.partitions = 1});
  const auto sent = Clock::now();
  {
    Helper producer({"delay", dir.path(), "later", "100", "1500"});
    ASSERT_NE(producer.read_until("stored").find("stored"), std::string::npos);
    producer.signal(SIGKILL);
    producer.wait();
  }
  std::set<std::string> received;
  std::size_t deliveries = 0;
  auto consume = [&](std::chrono::milliseconds how_long) {
    auto engine = open_engine(dir.path());
    auto subscription = engine->subscribe(core::SubscriptionSpec{"delayed", {"later"}, StartPosition::earliest});
    const auto deadline = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& record : subscription->poll(100, 100ms)) {
        EXPECT_GE(Clock::now(), sent + 1500ms) << "delivered before it was due";
        received.insert(record.message.value);
        ++deliveries;
        subscription->ack(record);
      }
      if (received.size() == 100 && how_long > 3s) break;
    }
    subscription->close();
  };
  consume(10s);  // the mover of this process delivers them
  EXPECT_EQ(received.size(), 100u);
  consume(2s);  // a restart delivers nothing again
  EXPECT_EQ(deliveries, 100u);
  EXPECT_EQ(test::read_all(dir.path() + "/topics/later/0").size(), 100u) << "moved twice";
}

}  // namespace
}  // namespace mq::engines::embedded
