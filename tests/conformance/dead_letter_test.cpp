// C16: dead letters are listed, replayed to their original topic, and purged.
#include "harness.hpp"

namespace mq::conformance {
namespace {

class DeadLetters : public ConformanceTest {};

TEST_P(DeadLetters, C16_ListReplayPurge) {
  const auto name = topic("failing");
  const auto group_name = group("failing");
  std::atomic<bool> failing{true};
  Collector handled;
  auto options = consumer_options(group_name, {name});
  options.retry.max_attempts = 1;  // the first failure dead-letters
  auto handler = [&](const Message& m) {
    if (failing) return Outcome::retry("boom: " + m.value);
    handled.add(m);
    return Outcome::ack();
  };
  auto consumer = client().consumer(options, handler);
  auto producer = client().producer();
  const auto receipts = send_numbered(producer, name, 10);
  ASSERT_TRUE(wait_until([&] { return consumer.stats().dead_lettered == 10; }, 30s)) << consumer.stats().dead_lettered;

  auto admin = client().admin();
  auto letters = admin.list_dead_letters(group_name);
  ASSERT_EQ(letters.size(), 10u);
  std::set<std::string> sent_ids, listed_ids;
  for (const auto& receipt : receipts) sent_ids.insert(receipt.id);
  for (const auto& letter : letters) {
    listed_ids.insert(letter.message.id);
    EXPECT_EQ(letter.original_topic, name);
    EXPECT_EQ(letter.error, "boom: " + letter.message.value);
    EXPECT_EQ(letter.attempts, 1);
    EXPECT_GT(letter.failed_at.time_since_epoch().count(), 0);
  }
  EXPECT_EQ(listed_ids, sent_ids);
  EXPECT_EQ(admin.list_dead_letters(group_name).size(), 10u) << "listing changed the dead letters";

  // Replay three by id, then the rest: each is handled once, by the same group.
  failing = false;
  const std::vector<std::string> first_three{letters[0].message.id, letters[1].message.id, letters[2].message.id};
  EXPECT_EQ(admin.replay_dead_letters(group_name, DeadLetterSelection::by_ids(first_three)), 3u);
  ASSERT_TRUE(handled.wait_for_total(3, 30s));
  EXPECT_EQ(admin.list_dead_letters(group_name).size(), 7u);
  EXPECT_EQ(admin.replay_dead_letters(group_name, DeadLetterSelection::everything()), 7u);
  ASSERT_TRUE(handled.wait_for_total(10, 30s));
  EXPECT_FALSE(handled.wait_for_total(11, 300ms)) << "a replayed message was handled twice";
  EXPECT_EQ(handled.ids(), sent_ids);
  EXPECT_TRUE(admin.list_dead_letters(group_name).empty());

  // Purge: by age (none is an hour old), then all.
  failing = true;
  send_numbered(producer, name, 5);
  ASSERT_TRUE(wait_until([&] { return consumer.stats().dead_lettered == 15; }, 30s));
  ASSERT_EQ(admin.list_dead_letters(group_name).size(), 5u);
  EXPECT_EQ(admin.purge_dead_letters(group_name, DeadLetterSelection::older_than_age(std::chrono::hours(1))), 0u);
  EXPECT_EQ(admin.purge_dead_letters(group_name, DeadLetterSelection::everything()), 5u);
  EXPECT_TRUE(admin.list_dead_letters(group_name).empty());
  consumer.stop();
  EXPECT_EQ(handled.total(), 10u);
  EXPECT_TRUE(admin.list_dead_letters(group("never-failed")).empty());
}

INSTANTIATE_TEST_SUITE_P(Engines, DeadLetters, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
