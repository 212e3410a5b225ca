// C23-C24: metrics match what the test observed; admin reflects reality.
#include "harness.hpp"

namespace mq::conformance {
namespace {

class Observability : public ConformanceTest {};

TEST_P(Observability, C23_MetricsMatchObservedCounts) {
  const auto name = topic("metered");
  const auto group_name = group("metered");
  auto producer = client().producer();
  send_numbered(producer, name, 20);
  Collector handled;
  std::atomic<int> invocations{0};
  auto options = consumer_options(group_name, {name});
  options.retry.max_attempts = 2;
  auto consumer = client().consumer(options, [&](const Message& m) {
    ++invocations;
    if (m.value == "3") return Outcome::retry("always fails");
    handled.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(handled.wait_for_total(19, 30s));
  ASSERT_TRUE(wait_until([&] { return consumer.stats().dead_lettered == 1; }, 30s));
  consumer.stop();
  EXPECT_EQ(invocations.load(), 21);  // 19 + two attempts of "3"

  const std::map<std::string, std::string> topic_ok{{"topic", name}, {"status", "ok"}};
  EXPECT_EQ(metrics::value("mq_messages_produced_total", topic_ok), 20);
  const auto consumed = [&](const std::string& status) {
    return metrics::value("mq_messages_consumed_total", {{"topic", name}, {"group", group_name}, {"status", status}});
  };
  EXPECT_EQ(consumed("ok"), 19);
  EXPECT_EQ(consumed("retry"), 1);
  EXPECT_EQ(consumed("dead_letter"), 1);
  EXPECT_EQ(consumed("duplicate"), 0);
  EXPECT_EQ(metrics::value("mq_message_processing_duration_seconds_count", {{"topic", name}, {"group", group_name}}),
            21);
  // Every handled message is committed: the group's lag on the topic is zero.
  ASSERT_TRUE(wait_until(
      [&] {
        double lag = 0;
        for (const auto& partition : client().admin().describe_group(group_name).partitions) {
          if (partition.topic == name) {
            lag += metrics::value("mq_consumer_lag",
                                  {{"topic", name}, {"group", group_name}, {"partition", std::to_string(partition.partition)}});
          }
        }
        return lag == 0;
      },
      30s));
  const auto text = metrics::render();
  EXPECT_NE(text.find("# TYPE mq_messages_consumed_total counter"), std::string::npos);
  EXPECT_NE(text.find("mq_messages_produced_total{topic=\"" + name + "\",status=\"ok\"} 20"), std::string::npos) << text;
  EXPECT_NE(text.find("mq_connection_status{engine=\"" + capabilities().engine + "\"} 1"), std::string::npos);
}

TEST_P(Observability, C24_AdminReflectsReality) {
  auto admin = client().admin();
  const auto name = topic("administered");
  admin.create_topic(name, TopicOptions{.partitions = 3});
  const auto find = [&]() -> std::optional<TopicInfo> {
    for (const auto& info : admin.list_topics()) {
      if (info.name == name) return info;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(find());
  EXPECT_EQ(find()->partitions, 3);
  EXPECT_THROW(
      try { admin.create_topic(name); } catch (const Error& error) {
        EXPECT_EQ(error.code(), ErrorCode::already_exists) << error.what();
        throw;
      },
      Error);

  // Lag equals sent minus acked.
  const auto group_name = group("administered");
  auto producer = client().producer();
  send_numbered(producer, name, 100);
  Collector handled;
  auto consumer = client().consumer(consumer_options(group_name, {name}), [&](const Message& m) {
    handled.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(handled.wait_for_total(100, 30s));
  consumer.stop();
  send_numbered(producer, name, 40);
  ASSERT_TRUE(wait_until([&] { return admin.describe_group(group_name).total_lag() == 40; }, 30s))
      << admin.describe_group(group_name).total_lag();
  const auto groups = admin.list_groups();
  EXPECT_NE(std::find(groups.begin(), groups.end(), group_name), groups.end());

  admin.delete_topic(name);
  EXPECT_FALSE(find());
  EXPECT_THROW(
      try { admin.delete_topic(name); } catch (const Error& error) {
        EXPECT_EQ(error.code(), ErrorCode::not_found) << error.what();
        throw;
      },
      Error);
}

INSTANTIATE_TEST_SUITE_P(Engines, Observability, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
