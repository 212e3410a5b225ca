// C25-C26: faults of engines that have a server (Capabilities::server). Each case owns
// its server (ServerControl), so restarting it never disturbs other cases.
#include <thread>

#include "harness.hpp"

namespace mq::conformance {
namespace {

class Faults : public ConformanceTest {
 protected:
  // Starts this case's own server, or skips when the engine has none.
  void start_own_server() {
    server_ = ServerControl::start_private();
    ASSERT_NE(server_, nullptr) << "engine claims a server but MQ_CONFORMANCE_SERVER_SCRIPT is unset";
  }
  Config own_server_config() const {
    auto config = test_config();
    config.url = server_->url();
    return config;
  }
  std::unique_ptr<ServerControl> server_;
};

TEST_P(Faults, C25_ServerRestartsMidStream) {
  MQ_REQUIRE_CAPABILITY(server);
  start_own_server();
  Client own(own_server_config());
  const auto name = topic("restart");
  own.admin().create_topic(name, TopicOptions{.partitions = 2});
  Collector collector;
  auto options = consumer_options(group("restart"), {name});
  auto consumer = own.consumer(options, [&](const Message& m) {
    collector.add(m);
    return Outcome::ack();
  });
  auto producer = own.producer();
  // Sync sends before, during and after the outage; remember what was acknowledged.
  std::set<std::string> acknowledged;
  int failed = 0;
  std::atomic<bool> sending{true};
  std::thread sender([&] {
    for (int i = 0; sending; ++i) {
      try {
        acknowledged.insert(producer.send(Message(name, "m" + std::to_string(i))).id);
      } catch (const Error&) {
        ++failed;  // an error is allowed; a silent loss is not
      }
      std::this_thread::sleep_for(5ms);  // pace: the outage must fall mid-stream
    }
  });
  ASSERT_TRUE(wait_until([&] { return collector.total() >= 50; }, 30s)) << "nothing consumed before the restart";
  ASSERT_TRUE(server_->down());
  std::this_thread::sleep_for(1s);  // the outage itself: the server is down this long
  ASSERT_TRUE(server_->up());
  const auto consumed_at_restart = collector.total();
  EXPECT_TRUE(wait_until([&] { return collector.total() > consumed_at_restart; }, 10s))
      << "the consumer did not resume within 10 s of the restart";
  sending = false;
  sender.join();
  const auto ids = acknowledged;  // the sender has finished
  EXPECT_TRUE(wait_until(
      [&] {
        const auto seen = collector.ids();
        return std::includes(seen.begin(), seen.end(), ids.begin(), ids.end());
      },
      60s))
      << "an acknowledged message was lost across the restart";
  consumer.stop();
  const auto seen = collector.ids();
  std::size_t lost = 0;
  for (const auto& id : ids) lost += seen.count(id) ? 0 : 1;
  EXPECT_EQ(lost, 0u);
  RecordProperty("acknowledged", static_cast<int>(ids.size()));
  RecordProperty("send_errors", failed);
  RecordProperty("duplicates", static_cast<int>(collector.duplicates()));
}

TEST_P(Faults, C26_UnreachableServerAtStart) {
  MQ_REQUIRE_CAPABILITY(server);
  // The engine's own URL with its authority (user, password, hosts) swapped for a
  // closed port and a password that must not appear in the error. Every server
  // engine's URL takes user:password@ (Kafka maps it to SASL).
  std::string address = url();
  const auto authority = address.find("://") + 3;
  const auto path = address.find('/', authority);
  address.replace(authority, (path == std::string::npos ? address.size() : path) - authority,
                  "mquser:s3cret-pass@127.0.0.1:9");
  auto config = test_config();
  config.url = address;
  config.connect_timeout = 2s;
  const auto started = std::chrono::steady_clock::now();
  try {
    Client unreachable(config);
    auto producer = unreachable.producer();
    producer.send(Message(topic("unreachable"), "x"));
    FAIL() << "no error for an unreachable server";
  } catch (const Error& error) {
    const auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(error.code(), ErrorCode::connection) << error.what();
    EXPECT_NE(std::string(error.what()).find("127.0.0.1:9"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find("s3cret-pass"), std::string::npos) << error.what();
    EXPECT_LT(elapsed, config.connect_timeout + 3s) << "the error took longer than the connect timeout";
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, Faults, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
