// C01-C06: producing.
#include <thread>

#include "harness.hpp"

namespace mq::conformance {
namespace {

class Producing : public ConformanceTest {};

Headers user_headers(const Headers& headers) {
  Headers result;
  for (const auto& [name, value] : headers) {
    if (!name.starts_with(names::header_prefix)) result.add(name, value);
  }
  return result;
}

// Consumes `topic` from the start until `count` messages arrived (or 30 s passed).
std::vector<Message> consume_all(Client& client, const std::string& topic, const std::string& group,
                                 std::size_t count, const ConsumerOptions& options) {
  Collector collector;
  auto consumer = client.consumer(options, [&](const Message& message) {
    collector.add(message);
    return Outcome::ack();
  });
  EXPECT_TRUE(collector.wait_for_total(count, 60s)) << "got " << collector.total() << " of " << count << " from "
                                                    << topic << " (" << group << ")";
  consumer.stop();
  return collector.messages();
}

TEST_P(Producing, C01_SyncSendReturnsReceiptAndRoundTrips) {
  auto producer = client().producer();
  const auto name = topic("sync");
  Message message(name, "order-17", "{\"total\": 42}");
  message.headers.add("content-type", "application/json");
  message.headers.add("x-tenant", "acme");
  const auto receipt = producer.send(message);
  EXPECT_EQ(receipt.topic, name);
  EXPECT_FALSE(receipt.id.empty());
  EXPECT_TRUE(receipt.partition >= 0 || !receipt.engine_id.empty());
  EXPECT_TRUE(receipt.offset >= 0 || !receipt.engine_id.empty());

  const auto group_name = group("sync");
  auto received = consume_all(client(), name, group_name, 1, consumer_options(group_name, {name}));
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].id, receipt.id);
  EXPECT_EQ(received[0].key, message.key);
  EXPECT_EQ(received[0].value, message.value);
  EXPECT_EQ(user_headers(received[0].headers), message.headers);
  EXPECT_EQ(received[0].partition, receipt.partition);
  EXPECT_EQ(received[0].offset, receipt.offset);
  EXPECT_EQ(received[0].attempt(), 1);
}

TEST_P(Producing, C02_AsyncSendTenThousandThenFlush) {
  auto producer = client().producer();
  const auto name = topic("async");
  constexpr int count = 10'000;
  std::atomic<int> ok{0}, failed{0};
  std::mutex ids_mutex;
  std::set<std::string> acknowledged;
  for (int i = 0; i < count; ++i) {
    producer.send_async(Message(name, std::to_string(i)), [&](const Status& status, const Receipt& receipt) {
      if (!status.ok()) {
        ++failed;
        return;
      }
      ++ok;
      std::lock_guard lock(ids_mutex);
      acknowledged.insert(receipt.id);
    });
  }
  ASSERT_TRUE(producer.flush(60s));
  EXPECT_EQ(ok.load(), count);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(acknowledged.size(), static_cast<std::size_t>(count));  // each callback once, distinct ids

  const auto group_name = group("async");
  auto received = consume_all(client(), name, group_name, count, consumer_options(group_name, {name}));
  std::set<std::string> received_ids;
  for (const auto& message : received) received_ids.insert(message.id);
  EXPECT_EQ(received.size(), static_cast<std::size_t>(count));
  EXPECT_EQ(received_ids, acknowledged);
}

TEST_P(Producing, C03_BatchOfThousandKeepsPerKeyOrder) {
  auto producer = client().producer();
  const auto name = topic("batch");
  const auto receipts = send_numbered(producer, name, 1000, [](int i) { return "key-" + std::to_string(i % 10); });
  ASSERT_EQ(receipts.size(), 1000u);
  const auto group_name = group("batch");
  auto options = consumer_options(group_name, {name});
  options.workers = 4;
  auto received = consume_all(client(), name, group_name, 1000, options);
  ASSERT_EQ(received.size(), 1000u);
  std::map<std::string, int> last_seen;
  for (const auto& message : received) {
    const int value = std::stoi(message.value);
    auto [it, inserted] = last_seen.try_emplace(*message.key, value);
    if (!inserted) {
      EXPECT_LT(it->second, value) << "key " << *message.key << " out of order";
      it->second = value;
    }
  }
  EXPECT_EQ(last_seen.size(), 10u);
}

TEST_P(Producing, C04_EdgeValuesRoundTripByteExact) {
  auto producer = client().producer();
  const auto name = topic("edge");
  std::vector<Message> sent;
  sent.emplace_back(name, "");                                  // empty value
  sent.emplace_back(name, std::string(1 << 20, 'v'));           // 1 MiB (the default limit)
  std::string binary("\0\x01\xff\xfe\xc3\x28 nul\0tail", 13);   // NUL bytes, invalid UTF-8
  sent.emplace_back(name, binary);
  sent.back().key = std::string("k\0\xff", 3);
  Message many_headers(name, "headers");
  for (int i = 0; i < 100; ++i) many_headers.headers.add("h" + std::to_string(i), std::string("v\0", 2) + std::to_string(i));
  sent.push_back(many_headers);
  std::map<std::string, Message> by_id;
  for (auto& message : sent) {
    const auto receipt = producer.send(message);
    message.id = receipt.id;
    by_id[receipt.id] = message;
  }
  const auto group_name = group("edge");
  auto received = consume_all(client(), name, group_name, sent.size(), consumer_options(group_name, {name}));
  ASSERT_EQ(received.size(), sent.size());
  for (const auto& message : received) {
    ASSERT_TRUE(by_id.count(message.id));
    const auto& original = by_id[message.id];
    EXPECT_EQ(message.value, original.value);
    EXPECT_EQ(message.key, original.key);
    EXPECT_EQ(user_headers(message.headers), original.headers);
  }
}

TEST_P(Producing, C05_InvalidInputIsAClearErrorAndWritesNothing) {
  auto producer = client().producer();
  auto admin = client().admin();
  const auto name = topic("limits");
  admin.create_topic(name, TopicOptions{.partitions = 1});
  auto expect_error = [&](Message message, ErrorCode code, const std::string& mention) {
    try {
      producer.send(message);
      ADD_FAILURE() << "send succeeded; expected " << to_string(code);
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), code) << error.what();
      EXPECT_NE(std::string(error.what()).find(mention), std::string::npos) << error.what();
    }
  };
  expect_error(Message(name, std::string((1 << 20) + 1, 'x')), ErrorCode::limit_exceeded, "max_message_bytes");
  expect_error(Message("../x", "v"), ErrorCode::invalid_argument, "'../x'");
  expect_error(Message("", "v"), ErrorCode::invalid_argument, "empty");
  expect_error(Message(std::string(300, 't'), "v"), ErrorCode::invalid_argument, "longer than 249");
  expect_error(Message("a/b", "v"), ErrorCode::invalid_argument, "'a/b'");
  Message empty_header(name, "v");
  empty_header.headers.add("", "value");
  expect_error(empty_header, ErrorCode::invalid_argument, "header name");
  // Nothing was written: the topic is empty and no bad topic exists.
  for (const auto& info : admin.list_topics()) {
    if (info.name == name) {
      EXPECT_EQ(info.messages, 0u);
    }
    EXPECT_NE(info.name, "a/b");
    EXPECT_EQ(info.name.find(".."), std::string::npos);
  }
}

TEST_P(Producing, C06_SendAfterCloseIsAnError) {
  auto producer = client().producer();
  const auto name = topic("closed");
  producer.send(name, "before");
  producer.close();
  producer.close();  // idempotent
  try {
    producer.send(name, "after");
    ADD_FAILURE() << "send after close succeeded";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::closed) << error.what();
  }
  EXPECT_THROW(producer.send_async(Message(name, "after")), Error);
  EXPECT_THROW(producer.send_batch({Message(name, "after")}), Error);
  EXPECT_TRUE(producer.flush(1s));
}

INSTANTIATE_TEST_SUITE_P(Engines, Producing, ::testing::ValuesIn(engine_urls()), engine_name);

}  // namespace
}  // namespace mq::conformance
