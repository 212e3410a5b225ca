// The Kafka engine with other Kafka clients: kcat (librdkafka's command-line client)
// produces what mq consumes and reads what mq produced, headers included. Runs against
// the mock cluster (mq_kafka_mock) that scripts/servers/kafka.sh starts.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mock_cluster.hpp"
#include "mq/mq.hpp"

namespace {

using namespace std::chrono_literals;

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return output;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) output += buffer.data();
  ::pclose(pipe);
  return output;
}

class KcatInterop : public ::testing::Test {
 protected:
  mq::Config config() const {
    auto config = mq::Config::defaults("development");
    config.url = cluster_.url();
    return config;
  }
  mq::kafka_test::MockCluster cluster_;
  const std::string bootstrap_ = cluster_.bootstrap();
};

TEST_F(KcatInterop, KcatProducesMqConsumes) {
  mq::Client client(config());
  client.admin().create_topic("interop.from-kcat", mq::TopicOptions{.partitions = 2});
  const auto produced = run("printf 'k1:hello\\nk2:world\\n' | kcat -P -b " + bootstrap_ +
                            " -t interop.from-kcat -K: -H source=kcat -H trace=abc 2>&1; echo rc=$?");
  ASSERT_NE(produced.find("rc=0"), std::string::npos) << produced;
  std::mutex mutex;
  std::vector<mq::Message> received;
  mq::ConsumerOptions options;
  options.group = "interop.kcat.group";
  options.topics = {"interop.from-kcat"};
  options.start = mq::StartPosition::earliest;
  auto consumer = client.consumer(options, [&](const mq::Message& m) {
    std::lock_guard lock(mutex);
    received.push_back(m);
    return mq::Outcome::ack();
  });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mutex);
      if (received.size() >= 2) break;
    }
    std::this_thread::sleep_for(10ms);  // polling interval of the wait
  }
  consumer.stop();
  ASSERT_EQ(received.size(), 2u);
  for (const auto& m : received) {
    ASSERT_TRUE(m.key.has_value());
    EXPECT_EQ(m.value, *m.key == "k1" ? "hello" : "world");
    EXPECT_EQ(m.headers.find("source"), std::optional<std::string_view>("kcat"));
    EXPECT_EQ(m.headers.find("trace"), std::optional<std::string_view>("abc"));
    EXPECT_FALSE(m.id.empty());
    // The same key lands where mq would put it: librdkafka's murmur2 partitioner in kcat.
  }
}

TEST_F(KcatInterop, MqProducesKcatConsumes) {
  mq::Client client(config());
  auto producer = client.producer();
  mq::Message message("interop.from-mq", "order-7", "payload-1");
  message.headers.add("origin", "mq");
  const auto receipt = producer.send(message);
  const auto output = run("kcat -C -b " + bootstrap_ + " -t interop.from-mq -o beginning -c 1 -e -q " +
                          "-f 'key=%k value=%s partition=%p headers=%h\\n' 2>&1");
  EXPECT_NE(output.find("key=order-7 value=payload-1"), std::string::npos) << output;
  EXPECT_NE(output.find("partition=" + std::to_string(receipt.partition)), std::string::npos) << output;
  EXPECT_NE(output.find("origin=mq"), std::string::npos) << output;
  EXPECT_NE(output.find("mq-id=" + receipt.id), std::string::npos) << output;
}

}  // namespace
