// C14, C15, C17, C18, C22: retries, dead letters, exceptions, delayed delivery, tracing.
#include <random>
#include <thread>

#include "harness.hpp"

namespace mq::conformance {
namespace {

class Reliability : public ConformanceTest {
 protected:
  void check_delayed_delivery(Client& client);
};

using SteadyClock = std::chrono::steady_clock;

TEST_P(Reliability, C14_RetryWithBackoffWhileOtherKeysFlow) {
  const auto name = topic("retry");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});  // one partition: others are behind it
  auto options = consumer_options(group("retry"), {name});
  options.retry.max_attempts = 5;
  options.retry.initial_backoff = 400ms;
  options.retry.max_backoff = 5s;
  options.retry.multiplier = 2;
  options.retry.jitter = 0.2;
  std::mutex mutex;
  std::vector<int> attempts;
  std::vector<SteadyClock::time_point> attempt_times;
  Collector others;
  auto consumer = client().consumer(options, [&](const Message& m) {
    if (m.key == "flaky") {
      std::lock_guard lock(mutex);
      attempts.push_back(m.attempt());
      attempt_times.push_back(SteadyClock::now());
      if (m.attempt() < 3) return Outcome::retry("not yet");
      return Outcome::ack();
    }
    others.add(m);
    return Outcome::ack();
  });
  auto producer = client().producer();
  producer.send(Message(name, "flaky", "flaky"));
  send_numbered(producer, name, 50, [](int i) { return "other-" + std::to_string(i); });
  // Other keys finish while the flaky one waits for its first backoff (400 ms).
  ASSERT_TRUE(others.wait_for_total(50, 30s));
  {
    std::lock_guard lock(mutex);
    EXPECT_LT(attempts.size(), 3u) << "other keys were held up behind the retries";
  }
  ASSERT_TRUE(wait_until([&] { std::lock_guard lock(mutex); return attempts.size() >= 3; }, 30s));
  consumer.stop();
  std::lock_guard lock(mutex);
  EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3}));
  const std::chrono::milliseconds expected[] = {400ms, 800ms};
  for (int i = 0; i < 2; ++i) {
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(attempt_times[i + 1] - attempt_times[i]);
    EXPECT_GE(waited.count(), expected[i].count() * 0.8) << "attempt " << i + 2;
    EXPECT_LE(waited.count(), expected[i].count() * 1.2 + 200) << "attempt " << i + 2;
  }
  EXPECT_EQ(consumer.stats().retried, 2u);
}

TEST_P(Reliability, C15_DeadLetterAfterMaxAttemptsDoesNotBlockThePartition) {
  const auto name = topic("poison");
  const auto group_name = group("poison");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});
  auto options = consumer_options(group_name, {name});
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = 20ms;
  Collector handled;
  auto consumer = client().consumer(options, [&](const Message& m) {
    if (m.key == "poison") return Outcome::retry("cannot reserve stock for " + m.value);
    handled.add(m);
    return Outcome::ack();
  });
  auto producer = client().producer();
  const auto poison = producer.send(Message(name, "poison", "order-9"));
  send_numbered(producer, name, 20, [](int i) { return "fine-" + std::to_string(i); });
  ASSERT_TRUE(handled.wait_for_total(20, 30s));

  Collector letters;
  auto dead = client().consumer(consumer_options(group("reader"), {names::dead_letter_topic(group_name)}),
                                [&](const Message& m) {
                                  letters.add(m);
                                  return Outcome::ack();
                                });
  ASSERT_TRUE(letters.wait_for_total(1, 30s));
  EXPECT_FALSE(letters.wait_for_total(2, 300ms)) << "dead-lettered more than once";
  dead.stop();
  consumer.stop();
  const auto letter = letters.messages().front();
  EXPECT_EQ(letter.id, poison.id);
  EXPECT_EQ(letter.value, "order-9");
  EXPECT_EQ(letter.key, "poison");
  EXPECT_EQ(letter.headers.find(names::original_topic_header), name);
  EXPECT_EQ(letter.headers.find(names::error_header), "cannot reserve stock for order-9");
  EXPECT_EQ(letter.headers.find(names::attempt_header), "3");
  EXPECT_EQ(consumer.stats().dead_lettered, 1u);
  EXPECT_EQ(handled.total(), 20u);
}

TEST_P(Reliability, C17_ExceptionsAreFailuresWithTheirText) {
  const auto name = topic("throws");
  const auto group_name = group("throws");
  auto options = consumer_options(group_name, {name});
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = 10ms;
  Collector handled;
  std::atomic<int> thrown{0};
  auto consumer = client().consumer(options, [&](const Message& m) -> Outcome {
    if (m.value == "bad") {
      ++thrown;
      throw std::runtime_error("payment gateway said no");
    }
    if (m.value == "weird") throw 42;  // not a std::exception
    handled.add(m);
    return Outcome::ack();
  });
  auto producer = client().producer();
  producer.send(name, "bad");
  producer.send(name, "weird");
  send_numbered(producer, name, 10);
  ASSERT_TRUE(handled.wait_for_total(10, 30s));  // the consumer kept running
  Collector letters;
  auto dead = client().consumer(consumer_options(group("reader"), {names::dead_letter_topic(group_name)}),
                                [&](const Message& m) {
                                  letters.add(m);
                                  return Outcome::ack();
                                });
  ASSERT_TRUE(letters.wait_for_total(2, 30s));
  dead.stop();
  consumer.stop();
  std::map<std::string, std::string> errors;
  for (const auto& letter : letters.messages()) {
    errors[letter.value] = std::string(letter.headers.find(names::error_header).value_or(""));
  }
  EXPECT_EQ(errors["bad"], "payment gateway said no");
  EXPECT_NE(errors["weird"].find("non-standard exception"), std::string::npos);
  EXPECT_EQ(thrown.load(), 2);
  EXPECT_EQ(handled.total(), 10u);
}

// C14, durable part (issue 5): a retry scheduled by a consumer that then stops is
// continued by the next consumer of the group: same attempt count, same due time.
TEST_P(Reliability, C14_RetryStateSurvivesConsumerRestart) {
  MQ_REQUIRE_CAPABILITY(durable_retry);
  const auto name = topic("durable-retry");
  client().admin().create_topic(name, TopicOptions{.partitions = 1});
  auto options = consumer_options(group("durable-retry"), {name});
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = 2s;
  options.retry.max_backoff = 2s;
  options.retry.jitter = 0;
  std::atomic<int> first_attempt{0};
  std::atomic<std::int64_t> failed_at_ms{0};
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  };
  {
    auto before_restart = new_client();
    auto consumer = before_restart->consumer(options, [&](const Message& m) {
      first_attempt = m.attempt();
      failed_at_ms = now_ms();
      return Outcome::retry("fails before the restart");
    });
    client().producer().send(Message(name, "k", "durable"));
    ASSERT_TRUE(wait_until([&] { return first_attempt.load() == 1; }, 30s));
    consumer.stop();
  }
  std::mutex mutex;
  std::vector<std::pair<int, std::int64_t>> after;  // attempt, arrival ms
  auto after_restart = new_client();
  auto consumer = after_restart->consumer(options, [&](const Message& m) {
    std::lock_guard lock(mutex);
    after.emplace_back(m.attempt(), now_ms());
    return Outcome::ack();
  });
  ASSERT_TRUE(wait_until([&] { std::lock_guard lock(mutex); return !after.empty(); }, 30s));
  EXPECT_FALSE(wait_until([&] { std::lock_guard lock(mutex); return after.size() > 1; }, 300ms));
  consumer.stop();
  std::lock_guard lock(mutex);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].first, 2) << "the attempt count restarted";
  EXPECT_GE(after[0].second, failed_at_ms.load() + 2000) << "the backoff was cut short by the restart";
  EXPECT_LE(after[0].second, failed_at_ms.load() + 2000 + 3000);
}

// C18's scenario on `client`: two sends due in 2 s, then 1,000 with delays of 0-3 s.
void Reliability::check_delayed_delivery(Client& client) {
  const auto name = topic("delayed");
  std::mutex mutex;
  std::map<std::string, Clock::time_point> arrived;
  Collector collector;
  auto consumer = client.consumer(consumer_options(group("delayed"), {name}), [&](const Message& m) {
    {
      std::lock_guard lock(mutex);
      arrived[m.id] = Clock::now();
    }
    collector.add(m);
    return Outcome::ack();
  });
  auto producer = client.producer();
  std::map<std::string, Clock::time_point> due;
  const auto start = Clock::now();
  due[producer.send_after(Message(name, "after"), 2s).id] = start + 2s;
  const auto at = Clock::now() + 2s;
  due[producer.send_at(Message(name, "at"), at).id] = at;
  std::mt19937 random(7);
  std::uniform_int_distribution<int> delay_ms(0, 3000);
  for (int i = 0; i < 1000; ++i) {
    const auto delay = std::chrono::milliseconds(delay_ms(random));
    const auto sent_at = Clock::now();
    due[producer.send_after(Message(name, std::to_string(i)), delay).id] = sent_at + delay;
  }
  ASSERT_TRUE(collector.wait_for_total(1002, 30s)) << collector.total();
  consumer.stop();
  EXPECT_EQ(collector.duplicates(), 0u);
  std::lock_guard lock(mutex);
  ASSERT_EQ(arrived.size(), due.size());
  for (const auto& [id, when] : due) {
    const auto delivered = arrived.at(id);
    EXPECT_GE(delivered, when) << "delivered early";
    EXPECT_LE(delivered, when + 1s) << "delivered more than 1 s late";
  }
}

TEST_P(Reliability, C18_DelayedDeliveryWithinItsWindow) { check_delayed_delivery(client()); }

// Engines with native delay can also use core's scheduler (Config::core_delay_scheduler);
// engines without it went through the scheduler in the case above already.
TEST_P(Reliability, C18_DelayedThroughCoreScheduler) {
  MQ_REQUIRE_CAPABILITY(native_delay);
  auto config = test_config();
  config.core_delay_scheduler = true;
  Client scheduled(config);
  check_delayed_delivery(scheduled);
}

TEST_P(Reliability, C22_TraceContextTravelsWithTheMessage) {
  const auto name = topic("traced"), forwarded = topic("forwarded");
  auto producer = client().producer();
  std::mutex mutex;
  std::vector<std::pair<Message, std::optional<trace::Context>>> seen;
  Collector collector;
  auto record = [&](const Message& m) {
    {
      std::lock_guard lock(mutex);
      seen.emplace_back(m, trace::current());
    }
    collector.add(m);
  };
  // The first handler forwards inside its trace; the second sees the same trace.
  auto first = client().consumer(consumer_options(group("traced"), {name}), [&](const Message& m) {
    record(m);
    if (m.value == "traced") producer.send(forwarded, "forwarded");
    return Outcome::ack();
  });
  auto second = client().consumer(consumer_options(group("forwarded"), {forwarded}), [&](const Message& m) {
    record(m);
    return Outcome::ack();
  });
  const auto root = trace::Context::new_trace();
  {
    trace::Scope scope(root);
    producer.send(name, "traced");
  }
  producer.send(name, "untraced");  // no scope: no trace headers
  ASSERT_TRUE(collector.wait_for_total(3, 30s));
  first.stop();
  second.stop();
  std::lock_guard lock(mutex);
  int traced = 0;
  for (const auto& [message, context] : seen) {
    const auto parent = message.headers.find(names::traceparent_header);
    const auto trace_id = message.headers.find(names::trace_id_header);
    if (message.value == "untraced") {
      EXPECT_FALSE(parent.has_value());
      EXPECT_FALSE(trace_id.has_value());
      EXPECT_FALSE(context.has_value());
      continue;
    }
    ++traced;
    ASSERT_TRUE(parent && trace_id) << message.value;
    const auto parsed = trace::Context::parse(*parent);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->trace_id, root.trace_id);
    EXPECT_EQ(*trace_id, root.trace_id);   // both headers agree
    EXPECT_NE(parsed->span_id, root.span_id);  // a child span of the sender's
    ASSERT_TRUE(context);
    EXPECT_EQ(context->trace_id, root.trace_id);  // the handler runs inside the trace
  }
  EXPECT_EQ(traced, 2);
}

INSTANTIATE_TEST_SUITE_P(Engines, Reliability, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
