// C07, C08 (consumer objects), C09, C10, C11, C13: consuming.
#include <thread>

#include "harness.hpp"

namespace mq::conformance {
namespace {

class Consuming : public ConformanceTest {};

TEST_P(Consuming, C07_KeyOrderingUnderParallelism) {
  constexpr int keys = 20, per_key = 500;
  const auto name = topic("ordered");
  client().admin().create_topic(name, TopicOptions{.partitions = 4});
  auto producer = client().producer();
  // Interleaved: key k's n-th message is value n.
  std::vector<Message> batch;
  for (int n = 0; n < per_key; ++n) {
    for (int k = 0; k < keys; ++k) batch.emplace_back(name, "key-" + std::to_string(k), std::to_string(n));
  }
  producer.send_batch(std::move(batch));

  std::mutex mutex;
  std::map<std::string, int> next_expected, running;
  int concurrent = 0, max_concurrent = 0, order_violations = 0, overlap_violations = 0;
  Collector collector;
  auto options = consumer_options(group("ordered"), {name});
  options.workers = 8;
  auto consumer = client().consumer(options, [&](const Message& message) {
    const int value = std::stoi(message.value);
    {
      std::lock_guard lock(mutex);
      if (running[*message.key]++ != 0) ++overlap_violations;
      if (next_expected[*message.key] != value) ++order_violations;
      next_expected[*message.key] = value + 1;
      max_concurrent = std::max(max_concurrent, ++concurrent);
    }
    // A little work so that keys have the chance to overlap.
    const auto until = std::chrono::steady_clock::now() + 50us;
    while (std::chrono::steady_clock::now() < until) {
    }
    {
      std::lock_guard lock(mutex);
      --running[*message.key];
      --concurrent;
    }
    collector.add(message);
    return Outcome::ack();
  });
  ASSERT_TRUE(collector.wait_for_total(keys * per_key, 120s)) << collector.total();
  consumer.stop();
  EXPECT_EQ(collector.total(), static_cast<std::size_t>(keys * per_key));
  EXPECT_EQ(collector.duplicates(), 0u);
  EXPECT_EQ(order_violations, 0);
  EXPECT_EQ(overlap_violations, 0);
  EXPECT_GT(max_concurrent, 1) << "different keys never ran in parallel";
  for (const auto& [key, next] : next_expected) EXPECT_EQ(next, per_key) << key;
}

TEST_P(Consuming, C08_GroupMembersShareTheWork) {
  constexpr int count = 10'000;
  const auto name = topic("shared");
  client().admin().create_topic(name, TopicOptions{.partitions = 4});
  const auto group_name = group("shared");
  Collector first, second;
  auto other_client = new_client();
  auto member_one = client().consumer(consumer_options(group_name, {name}), [&](const Message& m) {
    first.add(m);
    return Outcome::ack();
  });
  auto member_two = other_client->consumer(consumer_options(group_name, {name}), [&](const Message& m) {
    second.add(m);
    return Outcome::ack();
  });
  auto producer = client().producer();
  send_numbered(producer, name, count);
  ASSERT_TRUE(wait_until([&] { return first.total() + second.total() >= count; }, 120s))
      << first.total() << " + " << second.total();
  member_one.stop();
  member_two.stop();
  std::set<std::string> all = first.ids(), both;
  for (const auto& id : second.ids()) {
    if (!all.insert(id).second) both.insert(id);
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(count)) << "missing messages";
  EXPECT_TRUE(both.empty()) << both.size() << " messages handled by both members";
  EXPECT_EQ(first.duplicates() + second.duplicates(), 0u);
  EXPECT_GT(first.total(), 0u);
  EXPECT_GT(second.total(), 0u);
}

TEST_P(Consuming, C09_EveryGroupGetsEveryMessage) {
  constexpr int count = 10'000;
  const auto name = topic("broadcast");
  Collector collectors[3];
  std::vector<Consumer> consumers;
  for (int g = 0; g < 3; ++g) {
    consumers.push_back(client().consumer(consumer_options(group("broadcast" + std::to_string(g)), {name}),
                                          [&collector = collectors[g]](const Message& m) {
                                            collector.add(m);
                                            return Outcome::ack();
                                          }));
  }
  auto producer = client().producer();
  send_numbered(producer, name, count);
  for (auto& collector : collectors) {
    EXPECT_TRUE(collector.wait_for_total(count, 120s)) << collector.total();
  }
  for (auto& consumer : consumers) consumer.stop();
  for (auto& collector : collectors) {
    EXPECT_EQ(collector.total(), static_cast<std::size_t>(count));
    EXPECT_EQ(collector.distinct(), static_cast<std::size_t>(count));
  }
}

TEST_P(Consuming, C10_PatternsAndTopicsCreatedLater) {
  const auto prefix = unique("shop");
  const auto created = prefix + ".order.created", paid = prefix + ".order.paid",
             item_added = prefix + ".order.item.added", refunded = prefix + ".order.refunded";
  auto producer = client().producer();
  for (const auto& name : {created, paid, item_added}) producer.send(name, name);
  Collector one_word, any_words;
  auto star = client().consumer(consumer_options(group("star"), {prefix + ".order.*"}), [&](const Message& m) {
    one_word.add(m);
    return Outcome::ack();
  });
  auto hash = client().consumer(consumer_options(group("hash"), {prefix + ".order.#"}), [&](const Message& m) {
    any_words.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(one_word.wait_for_total(2, 30s)) << one_word.total();
  ASSERT_TRUE(any_words.wait_for_total(3, 30s)) << any_words.total();
  // A topic that did not exist when the subscriptions started.
  producer.send(refunded, refunded);
  EXPECT_TRUE(one_word.wait_for_total(3, 5s)) << "new topic not picked up within 5 s";
  EXPECT_TRUE(any_words.wait_for_total(4, 5s)) << "new topic not picked up within 5 s";
  star.stop();
  hash.stop();
  std::multiset<std::string> star_topics, hash_topics;
  for (const auto& m : one_word.messages()) star_topics.insert(m.topic);
  for (const auto& m : any_words.messages()) hash_topics.insert(m.topic);
  EXPECT_EQ(star_topics, (std::multiset<std::string>{created, paid, refunded}));
  EXPECT_EQ(hash_topics, (std::multiset<std::string>{created, paid, item_added, refunded}));
}

TEST_P(Consuming, C11_StartPositionForNewGroups) {
  const auto name = topic("start");
  auto producer = client().producer();
  send_numbered(producer, name, 10, [](int) { return std::string("old"); });
  Collector earliest, latest;
  auto from_start = client().consumer(consumer_options(group("earliest"), {name}, StartPosition::earliest),
                                      [&](const Message& m) {
                                        earliest.add(m);
                                        return Outcome::ack();
                                      });
  auto from_end = client().consumer(consumer_options(group("latest"), {name}, StartPosition::latest),
                                    [&](const Message& m) {
                                      latest.add(m);
                                      return Outcome::ack();
                                    });
  // The latest-consumer's position is set when it takes its partitions, which this test
  // cannot observe: send new messages until it has seen one.
  int sent_new = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        producer.send(Message(name, "new", "new-" + std::to_string(sent_new++)));
        return latest.wait_for_total(1, 100ms);
      },
      30s));
  ASSERT_TRUE(earliest.wait_for_total(10 + sent_new, 30s));
  ASSERT_TRUE(wait_until([&] { return latest.total() >= 1; }, 1s));
  from_start.stop();
  from_end.stop();
  int old_in_earliest = 0;
  for (const auto& m : earliest.messages()) old_in_earliest += m.key == "old";
  EXPECT_EQ(old_in_earliest, 10);
  EXPECT_EQ(earliest.total(), static_cast<std::size_t>(10 + sent_new));
  for (const auto& m : latest.messages()) EXPECT_EQ(*m.key, "new") << "latest consumer saw an old message";
  EXPECT_LE(latest.total(), static_cast<std::size_t>(sent_new));
  EXPECT_EQ(latest.duplicates(), 0u);
}

TEST_P(Consuming, C13_GracefulStopFinishesInFlightWork) {
  constexpr int count = 100;
  const auto name = topic("graceful");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});
  auto producer = client().producer();
  send_numbered(producer, name, count);
  const auto group_name = group("graceful");
  std::atomic<bool> release{false};
  std::atomic<int> entered{0};
  Collector first;
  auto options = consumer_options(group_name, {name});
  options.workers = 4;
  options.max_in_flight = count;
  auto consumer = client().consumer(options, [&](const Message& m) {
    ++entered;
    while (!release) std::this_thread::yield();
    std::this_thread::sleep_for(1ms);  // simulated work per message
    first.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(wait_until([&] { return entered >= 4 && consumer.stats().in_flight == count; }, 30s))
      << consumer.stats().in_flight;
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);  // let stop() begin while all workers are busy
    release = true;
  });
  const bool finished = consumer.stop(30s);
  releaser.join();
  EXPECT_TRUE(finished);
  const auto handled = first.ids();
  EXPECT_EQ(first.duplicates(), 0u);
  EXPECT_EQ(handled.size(), static_cast<std::size_t>(count));

  // A new member of the group sees only what the first did not handle, then a sentinel.
  producer.send(Message(name, "sentinel", "sentinel"));
  Collector second;
  auto next = client().consumer(consumer_options(group_name, {name}), [&](const Message& m) {
    second.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(wait_until([&] { return second.total() >= count + 1 - handled.size(); }, 30s));
  next.stop();
  for (const auto& id : second.ids()) EXPECT_FALSE(handled.count(id)) << "handled before stop, delivered again";
  EXPECT_EQ(second.total(), 1u);
  EXPECT_EQ(second.messages().front().value, "sentinel");
}

INSTANTIATE_TEST_SUITE_P(Engines, Consuming, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
