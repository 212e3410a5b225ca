// C08, C12 and C19 with separate processes (engines with the multi_process capability).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "harness.hpp"

extern char** environ;

namespace mq::conformance {
namespace {

class Processes : public ConformanceTest {
 protected:
  void check_durable_delay(bool core_scheduler);
};

// A running mq_conformance_peer; killed (SIGKILL) if still running when destroyed.
class Peer {
 public:
  explicit Peer(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), MQ_PEER_PATH);
    std::vector<char*> argv;
    for (auto& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, MQ_PEER_PATH, nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
  }
  ~Peer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait_exit();
    }
  }
  bool started() const { return pid_ > 0; }
  void signal(int number) { ::kill(pid_, number); }
  int wait_exit() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

// The file a peer writes what it handled to. /tmp outlives test runs and PIDs repeat,
// so a leftover log of an earlier run with the same name would be read as this run's
// (seen in CI: C08 counted 4,839 stale lines as duplicates). The file is removed before
// the peer starts and when the case ends.
class PeerLog {
 public:
  explicit PeerLog(std::string path) : path_(std::move(path)) { remove(); }
  ~PeerLog() { remove(); }
  PeerLog(const PeerLog&) = delete;
  PeerLog& operator=(const PeerLog&) = delete;
  operator const std::string&() const { return path_; }

 private:
  void remove() {
    std::error_code ignored;  // absent is the normal case
    std::filesystem::remove(path_, ignored);
  }
  std::string path_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream file(path);
  for (std::string line; std::getline(file, line);) {
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

bool file_contains(const std::string& path, const std::string& wanted) {
  std::ifstream file(path);
  for (std::string line; std::getline(file, line);) {
    if (line == wanted) return true;
  }
  return false;
}

TEST_P(Processes, C08_GroupSharedAcrossProcesses) {
  MQ_REQUIRE_CAPABILITY(multi_process);
  constexpr int count = 10'000;
  const auto name = topic("shared");
  client().admin().create_topic(name, TopicOptions{.partitions = 4});
  const auto group_name = group("shared");
  const PeerLog log(::testing::TempDir() + unique("peer-log"));
  Peer peer({"consume", url(), group_name, name, log});
  ASSERT_TRUE(peer.started());
  ASSERT_TRUE(wait_until([&] { return file_contains(log, "#joined"); }, 30s));
  Collector local;
  auto consumer = client().consumer(consumer_options(group_name, {name}), [&](const Message& m) {
    local.add(m);
    return Outcome::ack();
  });
  auto producer = client().producer();
  send_numbered(producer, name, count);
  ASSERT_TRUE(wait_until([&] { return local.total() + read_lines(log).size() >= count; }, 120s));
  consumer.stop();
  peer.signal(SIGTERM);
  EXPECT_EQ(peer.wait_exit(), 0);
  std::multiset<std::string> everything;
  for (const auto& m : local.messages()) everything.insert(m.value);
  const auto remote = read_lines(log);
  everything.insert(remote.begin(), remote.end());
  std::set<std::string> distinct(everything.begin(), everything.end());
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(count)) << "missing messages";
  EXPECT_EQ(everything.size(), static_cast<std::size_t>(count)) << "messages handled twice";
  EXPECT_GT(local.total(), 0u);
  EXPECT_GT(remote.size(), 0u);
}

TEST_P(Processes, C12_KilledConsumerLosesNothingAndRepeatsNoAck) {
  MQ_REQUIRE_CAPABILITY(multi_process);
  MQ_REQUIRE_CAPABILITY(durable);
  const auto name = topic("killed");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});
  auto producer = client().producer();
  send_numbered(producer, name, 100);
  const auto group_name = group("killed");
  const PeerLog log(::testing::TempDir() + unique("peer-log"));
  Peer peer({"consume", url(), group_name, name, log, "50"});
  ASSERT_TRUE(peer.started());
  // Messages 0..49 were handled and acked; the handler of 50 never returns.
  ASSERT_TRUE(wait_until([&] { return file_contains(log, "50"); }, 60s));
  auto admin = client().admin();
  ASSERT_TRUE(wait_until(
      [&] {
        const auto info = admin.describe_group(group_name);
        return info.partitions.size() == 1 && info.partitions[0].committed == 50;
      },
      30s))
      << "the acks of 0..49 were not committed";
  peer.signal(SIGKILL);
  peer.wait_exit();

  Collector collector;
  auto consumer = client().consumer(consumer_options(group_name, {name}), [&](const Message& m) {
    collector.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(collector.wait_for_total(50, 60s)) << collector.total();
  EXPECT_FALSE(collector.wait_for_total(51, 300ms)) << "more than the unacked messages came back";
  consumer.stop();
  // No keys: the four workers may finish them in any order; the set is what counts.
  std::vector<int> values;
  for (const auto& m : collector.messages()) values.push_back(std::stoi(m.value));
  std::sort(values.begin(), values.end());
  std::vector<int> expected(50);
  for (int i = 0; i < 50; ++i) expected[static_cast<std::size_t>(i)] = 50 + i;
  EXPECT_EQ(values, expected);
}

// C19: a producer process sends 100 delayed messages and is killed; a consumer started
// afterwards gets all 100, once each, none before its due time.
void Processes::check_durable_delay(bool core_scheduler) {
  constexpr int count = 100;
  const auto name = topic("durable-delay");
  const PeerLog log(::testing::TempDir() + unique("peer-log"));
  {
    Peer producer({"produce-delayed", url(), name, log, std::to_string(count), core_scheduler ? "1" : "0"});
    ASSERT_TRUE(producer.started());
    ASSERT_TRUE(wait_until([&] { return file_contains(log, "#sent"); }, 60s)) << "the producer did not finish";
    producer.signal(SIGKILL);
    producer.wait_exit();
  }
  std::map<std::string, std::int64_t> due_ms;
  for (const auto& line : read_lines(log)) {
    const auto space = line.find(' ');
    due_ms[line.substr(0, space)] = std::stoll(line.substr(space + 1));
  }
  ASSERT_EQ(due_ms.size(), static_cast<std::size_t>(count));

  auto config = test_config();
  config.core_delay_scheduler = core_scheduler;
  Client consumer_side(config);
  std::mutex mutex;
  std::map<std::string, std::int64_t> arrived_ms;
  Collector collector;
  auto consumer = consumer_side.consumer(consumer_options(group("durable-delay"), {name}), [&](const Message& m) {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
    {
      std::lock_guard lock(mutex);
      arrived_ms.emplace(m.id, now);
    }
    collector.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(collector.wait_for_total(count, 60s)) << collector.total();
  EXPECT_FALSE(collector.wait_for_total(count + 1, 500ms)) << "a delayed message arrived twice";
  consumer.stop();
  EXPECT_EQ(collector.distinct(), static_cast<std::size_t>(count));
  std::lock_guard lock(mutex);
  for (const auto& [id, due] : due_ms) {
    ASSERT_TRUE(arrived_ms.count(id)) << "lost: " << id;
    EXPECT_GE(arrived_ms[id], due) << "delivered before its due time: " << id;
  }
}

TEST_P(Processes, C19_DurableDelayAcrossProducerCrash) {
  MQ_REQUIRE_CAPABILITY(multi_process);
  MQ_REQUIRE_CAPABILITY(durable);
  check_durable_delay(/*core_scheduler=*/false);
}

// Engines without native delay went through core's scheduler above already.
TEST_P(Processes, C19_DurableDelayThroughCoreScheduler) {
  MQ_REQUIRE_CAPABILITY(multi_process);
  MQ_REQUIRE_CAPABILITY(durable);
  MQ_REQUIRE_CAPABILITY(native_delay);
  check_durable_delay(/*core_scheduler=*/true);
}

INSTANTIATE_TEST_SUITE_P(Engines, Processes, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
