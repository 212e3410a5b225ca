// C27-C31: flow control, resubscription, concurrent open/close, close under load,
// many topics.
#include <thread>

#include "harness.hpp"

namespace mq::conformance {
namespace {

class Lifecycle : public ConformanceTest {};

TEST_P(Lifecycle, C27_MaxInFlightHoldsBackFurtherMessages) {
  const auto name = topic("flow");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});
  auto producer = client().producer();
  send_numbered(producer, name, 10);  // no keys: nothing but the limit keeps them apart
  std::atomic<bool> release{false};
  std::atomic<int> entered{0};
  Collector collector;
  auto options = consumer_options(group("flow"), {name});
  options.workers = 4;
  options.max_in_flight = 1;
  auto consumer = client().consumer(options, [&](const Message& m) {
    ++entered;
    while (!release) std::this_thread::yield();
    collector.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(wait_until([&] { return entered == 1; }, 30s));
  EXPECT_TRUE(stays_false([&] { return entered > 1; }, 500ms)) << "a second message was handed out";
  EXPECT_EQ(consumer.stats().in_flight, 1u);
  consumer.set_max_in_flight(4);
  EXPECT_TRUE(wait_until([&] { return entered >= 4; }, 30s)) << "raising the limit let nothing through";
  release = true;
  ASSERT_TRUE(collector.wait_for_total(10, 30s));
  consumer.stop();
  EXPECT_EQ(collector.total(), 10u);
  EXPECT_EQ(collector.duplicates(), 0u);
}

TEST_P(Lifecycle, C28_SubscribeCloseResubscribe) {
  constexpr int count = 5000;
  const auto name = topic("rounds");
  auto producer = client().producer();
  send_numbered(producer, name, count);
  const auto group_name = group("rounds");
  Collector all;
  int rounds = 0;
  while (all.total() < count && rounds < 20) {
    ++rounds;
    const auto before = all.total();
    auto options = consumer_options(group_name, {name});
    options.max_in_flight = 50;  // at most this many more once the round's share is in
    const auto target = std::min<std::size_t>(before + count / 5, count);
    // Past its share a handler waits for the round to end, so that a round handles its
    // share plus at most what is in flight, however the threads are scheduled.
    std::atomic<bool> round_over{false};
    auto consumer = client().consumer(options, [&](const Message& m) {
      all.add(m);
      if (all.total() >= target) wait_until([&] { return round_over.load(); }, 60s);
      return Outcome::ack();
    });
    ASSERT_TRUE(all.wait_for_total(target, 60s)) << "round " << rounds;
    round_over = true;
    ASSERT_TRUE(consumer.stop(30s));
  }
  EXPECT_GE(rounds, 5);
  EXPECT_EQ(all.total(), static_cast<std::size_t>(count));
  EXPECT_EQ(all.distinct(), static_cast<std::size_t>(count));
}

TEST_P(Lifecycle, C29_ConsumersOpenedAndClosedConcurrently) {
  const auto name = topic("churn");
  const auto group_name = group("churn");
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&] {
      auto consumer = client().consumer(consumer_options(group_name, {name}), [](const Message&) {
        return Outcome::ack();
      });
      ++opened;
      consumer.stop(10s);
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(opened.load(), 10);
  Collector collector;
  auto consumer = client().consumer(consumer_options(group_name, {name}), [&](const Message& m) {
    collector.add(m);
    return Outcome::ack();
  });
  auto producer = client().producer();
  send_numbered(producer, name, 1000);
  ASSERT_TRUE(collector.wait_for_total(1000, 60s)) << collector.total();
  consumer.stop();
  EXPECT_EQ(collector.distinct(), 1000u);
  EXPECT_EQ(collector.duplicates(), 0u);
}

TEST_P(Lifecycle, C30_ProducerCloseWhileTwentyThreadsSend) {
  const auto name = topic("closing");
  auto producer = client().producer();
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::map<std::string, std::string> value_of;
  std::atomic<int> failed{0}, other_errors{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 20; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string value = "t" + std::to_string(t) + "-" + std::to_string(i) + std::string(64, 'x');
        try {
          const auto receipt = producer.send(Message(name, value));
          std::lock_guard lock(mutex);
          acknowledged.insert(receipt.id);
          value_of[receipt.id] = value;
        } catch (const Error& error) {
          ++(error.code() == ErrorCode::closed ? failed : other_errors);
        }
      }
    });
  }
  ASSERT_TRUE(wait_until([&] { std::lock_guard lock(mutex); return acknowledged.size() >= 2000; }, 60s));
  producer.close();
  for (auto& sender : senders) sender.join();
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(acknowledged.size() + static_cast<std::size_t>(failed.load()), 10'000u);

  Collector collector;
  auto consumer = client().consumer(consumer_options(group("closing"), {name}), [&](const Message& m) {
    collector.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(collector.wait_for_total(acknowledged.size(), 60s));
  EXPECT_FALSE(collector.wait_for_total(acknowledged.size() + 1, 300ms)) << "more messages than acknowledged sends";
  consumer.stop();
  EXPECT_EQ(collector.ids(), acknowledged);
  for (const auto& m : collector.messages()) EXPECT_EQ(m.value, value_of[m.id]) << "half-written message";
}

TEST_P(Lifecycle, C31_FiftyTopicsUnderOnePattern) {
  const auto prefix = unique("fleet");
  Collector collector;
  auto consumer = client().consumer(consumer_options(group("fleet"), {prefix + ".*"}, StartPosition::latest),
                                    [&](const Message& m) {
                                      collector.add(m);
                                      return Outcome::ack();
                                    });
  std::vector<std::thread> senders;
  for (int t = 0; t < 5; ++t) {
    senders.emplace_back([&, t] {
      auto producer = client().producer();
      for (int topic_number = t * 10; topic_number < t * 10 + 10; ++topic_number) {
        const auto name = prefix + ".t" + std::to_string(topic_number);
        std::vector<Message> batch;
        for (int i = 0; i < 100; ++i) batch.emplace_back(name, name + "/" + std::to_string(i));
        producer.send_batch(std::move(batch));
      }
    });
  }
  for (auto& sender : senders) sender.join();
  ASSERT_TRUE(collector.wait_for_total(5000, 60s)) << collector.total();
  consumer.stop();
  EXPECT_EQ(collector.distinct(), 5000u);
  std::map<std::string, int> per_topic;
  for (const auto& m : collector.messages()) {
    EXPECT_EQ(m.value.substr(0, m.value.find('/')), m.topic);
    ++per_topic[m.topic];
  }
  EXPECT_EQ(per_topic.size(), 50u);
  for (const auto& [name, count] : per_topic) EXPECT_EQ(count, 100) << name;
}

INSTANTIATE_TEST_SUITE_P(Engines, Lifecycle, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
