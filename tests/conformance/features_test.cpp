// C20, C21, C33: idempotent consumption, batch consumption, priority.
#include <numeric>
#include <thread>

#include "harness.hpp"

namespace mq::conformance {
namespace {

class Features : public ConformanceTest {};

using SteadyClock = std::chrono::steady_clock;

TEST_P(Features, C20_SameIdHandledOncePerGroupWithinTheWindow) {
  const auto name = topic("dedup");
  constexpr auto window = 1500ms;
  struct Member {
    Collector handled;
    std::mutex mutex;
    std::vector<SteadyClock::time_point> times;
  };
  Member first_group, second_group;
  const auto make_consumer = [&](const std::string& group_name, Member& member) {
    auto options = consumer_options(group_name, {name});
    options.dedup.enabled = true;
    options.dedup.window = window;
    return client().consumer(options, [&member](const Message& m) {
      {
        std::lock_guard lock(member.mutex);
        member.times.push_back(SteadyClock::now());
      }
      member.handled.add(m);
      return Outcome::ack();
    });
  };
  auto first = make_consumer(group("dedup-a"), first_group);
  auto second = make_consumer(group("dedup-b"), second_group);
  auto producer = client().producer();
  Message message(name, "k", "same");
  message.id = unique("fixed-id");
  for (int i = 0; i < 3; ++i) producer.send(message);
  ASSERT_TRUE(wait_until([&] { return first.stats().duplicates == 2 && second.stats().duplicates == 2; }, 30s))
      << first.stats().duplicates << " " << second.stats().duplicates;
  EXPECT_EQ(first_group.handled.total(), 1u);
  EXPECT_EQ(second_group.handled.total(), 1u);

  // After the window the id is handled again. Resend until both groups did: copies
  // sent while a group's window lasts are dropped, so each group handles exactly one
  // more, past its window (the groups' windows end at slightly different times).
  const auto deadline = SteadyClock::now() + 30s;
  const auto both_again = [&] { return first_group.handled.total() >= 2 && second_group.handled.total() >= 2; };
  while (!both_again() && SteadyClock::now() < deadline) {
    producer.send(message);
    wait_until(both_again, 200ms);
  }
  ASSERT_TRUE(wait_until([&] { return first_group.handled.total() == 2 && second_group.handled.total() == 2; }, 30s));
  first.stop();
  second.stop();
  EXPECT_EQ(first_group.handled.total(), 2u);
  EXPECT_EQ(first_group.handled.distinct(), 1u);
  EXPECT_EQ(second_group.handled.total(), 2u);
  for (auto* member : {&first_group, &second_group}) {
    std::lock_guard lock(member->mutex);
    EXPECT_GE(member->times[1] - member->times[0], window) << "handled again inside the window";
  }
}

TEST_P(Features, C21_BatchConsumeRetriesTheWholeBatch) {
  const auto name = topic("batches");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});
  auto producer = client().producer();
  send_numbered(producer, name, 95);
  std::mutex mutex;
  std::vector<std::vector<std::string>> batches;  // values of each call
  std::vector<int> attempts;                     // attempt header of each call's first message
  std::atomic<bool> failed_once{false};
  auto options = consumer_options(group("batches"), {name});
  options.workers = 1;
  options.retry.initial_backoff = 100ms;
  auto consumer = client().batch_consumer(options, BatchOptions{.max_messages = 10, .linger = 200ms},
                                          [&](const std::vector<Message>& messages) {
                                            std::lock_guard lock(mutex);
                                            std::vector<std::string> values;
                                            for (const auto& m : messages) values.push_back(m.value);
                                            batches.push_back(values);
                                            attempts.push_back(messages.front().attempt());
                                            // The batch holding "42" fails once.
                                            const bool has_42 =
                                                std::find(values.begin(), values.end(), "42") != values.end();
                                            if (has_42 && !failed_once.exchange(true)) return Outcome::retry("once");
                                            return Outcome::ack();
                                          });
  ASSERT_TRUE(wait_until([&] { return consumer.stats().acked == 95; }, 30s)) << consumer.stats().acked;
  consumer.stop();
  std::lock_guard lock(mutex);
  std::size_t handled = 0;
  std::optional<std::size_t> failed_index;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    EXPECT_LE(batches[i].size(), 10u);
    EXPECT_GE(batches[i].size(), 1u);
    if (!failed_index && std::find(batches[i].begin(), batches[i].end(), "42") != batches[i].end()) {
      failed_index = i;
      continue;
    }
    handled += batches[i].size();
  }
  EXPECT_EQ(handled, 95u);
  ASSERT_TRUE(failed_index);
  ASSERT_LT(*failed_index + 1, batches.size());
  EXPECT_EQ(batches[*failed_index + 1], batches[*failed_index]) << "the retry was not the same batch";
  EXPECT_EQ(attempts[*failed_index], 1);
  EXPECT_EQ(attempts[*failed_index + 1], 2);
  // One partition, one worker: the values arrive in order, the failed batch repeated.
  std::vector<std::string> order;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    if (i != *failed_index) order.insert(order.end(), batches[i].begin(), batches[i].end());
  }
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], std::to_string(i));
  EXPECT_EQ(consumer.stats().retried, batches[*failed_index].size());
}

// A batch larger than the consumer's window cannot fill up: it runs once the window is
// full instead of waiting out its linger (it once did, every batch: 5,000 messages/s).
TEST_P(Features, C21_BatchRunsWhenTheWindowIsFull) {
  const auto name = topic("batch-window");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});
  auto producer = client().producer();
  send_numbered(producer, name, 50);
  std::mutex mutex;
  std::vector<std::size_t> sizes;
  auto options = consumer_options(group("batch-window"), {name});
  options.workers = 1;
  options.max_in_flight = 10;
  auto consumer = client().batch_consumer(options, BatchOptions{.max_messages = 1000, .linger = 60s},
                                          [&](const std::vector<Message>& messages) {
                                            std::lock_guard lock(mutex);
                                            sizes.push_back(messages.size());
                                            return Outcome::ack();
                                          });
  // Five windows' worth: with a linger per batch this would take five minutes.
  ASSERT_TRUE(wait_until([&] { return consumer.stats().acked == 50; }, 20s)) << consumer.stats().acked;
  consumer.stop();
  std::lock_guard lock(mutex);
  for (const auto size : sizes) EXPECT_LE(size, 10u);
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}), 50u);
  EXPECT_EQ(consumer.stats().received, 50u);
}

TEST_P(Features, C33_HigherPriorityFirst) {
  MQ_REQUIRE_CAPABILITY(priority);
  const auto name = topic("priority");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});
  auto producer = client().producer();
  std::vector<Message> low;
  for (int i = 0; i < 1000; ++i) low.emplace_back(name, "low-" + std::to_string(i));
  producer.send_batch(std::move(low));
  std::vector<Message> high;
  for (int i = 0; i < 10; ++i) {
    Message message(name, "high-" + std::to_string(i));
    message.priority = 9;
    high.push_back(std::move(message));
  }
  producer.send_batch(std::move(high));
  Collector handled;
  auto options = consumer_options(group("priority"), {name});
  options.workers = 1;
  options.max_in_flight = 16;  // what a consumer may hold before it sees the 10
  auto consumer = client().consumer(options, [&](const Message& m) {
    handled.add(m);
    return Outcome::ack();
  });
  ASSERT_TRUE(handled.wait_for_total(1010, 60s));
  consumer.stop();
  const auto messages = handled.messages();
  std::size_t last_high = 0, high_seen = 0;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].value.starts_with("high-")) {
      last_high = i;
      ++high_seen;
    }
  }
  EXPECT_EQ(high_seen, 10u);
  // The consumer may have taken a first fetch of priority-0 messages before the 10
  // were visible; the 10 must still come before the rest of the backlog.
  const auto low_before = last_high + 1 - high_seen;
  EXPECT_LT(low_before, static_cast<std::size_t>(options.max_in_flight) + 1)
      << "priority-9 messages waited behind " << low_before << " priority-0 ones";
  EXPECT_EQ(handled.duplicates(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, Features, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
