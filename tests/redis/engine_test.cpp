// The redis engine's own tests. Each test that needs a server starts its own with
// scripts/servers/redis.sh (so they may run in parallel) and stops it by its PID.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <limits>
#include <thread>

#include "core/engine.hpp"
#include "engines/redis/codec.hpp"
#include "engines/redis/connection.hpp"
#include "mq/mq.hpp"

namespace mq::engines::redis {
namespace {

using namespace std::chrono_literals;

class Server {
 public:
  Server() {
    std::string pattern = ::testing::TempDir() + "mq-redis-test-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    if (!run("start")) throw std::runtime_error("could not start redis-server");
    std::ifstream file(dir_ + "/url");
    std::getline(file, url_);
  }
  ~Server() {
    run("stop");
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  bool run(const std::string& verb) {
    return std::system(("'" MQ_REDIS_SCRIPT "' " + verb + " '" + dir_ + "' >/dev/null").c_str()) == 0;
  }
  const std::string& url() const { return url_; }

 private:
  std::string dir_, url_;
};

Config test_config(const std::string& url) {
  auto config = Config::defaults("development");
  config.url = url;
  config.producer.linger = 1ms;
  config.consumer.poll_interval = 50ms;
  return config;
}

// A consumer of `topic` in `group` from the earliest entry, with one worker (in order).
ConsumerOptions one_worker_from_start(Client& client, const std::string& group, const std::string& topic) {
  auto options = client.config().consumer;
  options.group = group;
  options.topics = {topic};
  options.start = StartPosition::earliest;
  options.workers = 1;
  return options;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(5ms);  // polling interval of the wait
  }
  return true;
}

// Deliveries counted per message value, from handler threads.
class Seen {
 public:
  void add(const std::string& value) {
    std::lock_guard lock(mutex_);
    ++counts_[value];
  }
  // True once `distinct` different values arrived (within `timeout`).
  bool wait_for(std::size_t distinct, std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
          std::lock_guard lock(mutex_);
          return counts_.size() >= distinct;
        },
        timeout);
  }
  std::map<std::string, int> counts() {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> counts_;
};

// Every field a frame carries (the topic and partition come from the stream).
void expect_same_fields(const Message& decoded, const Message& sent) {
  EXPECT_EQ(decoded.key, sent.key);
  EXPECT_EQ(decoded.value, sent.value);
  EXPECT_EQ(decoded.id, sent.id);
  EXPECT_EQ(decoded.priority, sent.priority);
  EXPECT_EQ(decoded.timestamp, sent.timestamp) << sent.id;
  EXPECT_EQ(decoded.headers, sent.headers);
}

TEST(Codec, RoundTripsEveryFieldByteExact) {
  Message message("t", std::string("k\0ey", 4), std::string("\0\xff\xfe value", 9));
  message.id = "0190-id";
  message.priority = 7;
  message.timestamp = TimePoint(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  message.headers.add("a", std::string("\0b", 2));
  message.headers.add("a", "again");
  Message decoded;
  ASSERT_TRUE(decode_message(encode_message(message), decoded));
  expect_same_fields(decoded, message);

  Message keyless("t", "");
  ASSERT_TRUE(decode_message(encode_message(keyless), decoded));
  EXPECT_FALSE(decoded.key.has_value());
  EXPECT_TRUE(decoded.value.empty());
  EXPECT_FALSE(decode_message("not a frame", decoded));
  EXPECT_FALSE(decode_message(encode_message(message).substr(0, 20), decoded));
}

// Version 1 frames (written before 2026-11-23) are still read, field for field.
TEST(Codec, ReadsVersionOneFrames) {
  Message message("t", std::string("k\0ey", 4), std::string("\0\xff value", 8));
  message.id = "0190-id";
  message.priority = 3;
  message.timestamp = TimePoint(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  message.headers.add("h", "v");
  const std::string frame = encode_message_v1(message);
  ASSERT_EQ(frame[1], 1);
  Message decoded;
  ASSERT_TRUE(decode_message(frame, decoded));
  expect_same_fields(decoded, message);
  EXPECT_FALSE(decode_message(frame.substr(0, 10), decoded));
}

// Version 2 packs a canonical lowercase UUID into 16 bytes and the timestamp relative
// to it; anything else is stored as it is, and every case round-trips exactly.
TEST(Codec, VersionTwoIsCompactAndExactForAnyIdAndTimestamp) {
  Message message("t", std::string(100, 'x'));
  message.id = "018f3c2a-7b1e-7c3d-8e4f-0123456789ab";
  message.timestamp = TimePoint(std::chrono::milliseconds(0x018f3c2a7b1e) + std::chrono::nanoseconds(123'456));
  const std::string frame = encode_message(message);
  EXPECT_EQ(frame[1], 2);
  EXPECT_LE(frame.size(), 100u + 3 + 16 + 4) << "3 header bytes, 16 id bytes, a short timestamp";
  Message decoded;
  ASSERT_TRUE(decode_message(frame, decoded));
  EXPECT_EQ(decoded.id, message.id);
  EXPECT_EQ(decoded.timestamp, message.timestamp);
  EXPECT_EQ(decoded.value, message.value);
  EXPECT_FALSE(decoded.key.has_value());
  EXPECT_TRUE(decoded.headers.empty());
  EXPECT_EQ(decoded.priority, 0);

  const std::vector<std::string> ids = {"018F3C2A-7B1E-7C3D-8E4F-0123456789AB",  // upper case: kept as text
                                        "018f3c2a-7b1e-7c3d-8e4f-0123456789a",   // too short
                                        "018f3c2a+7b1e-7c3d-8e4f-0123456789ab",  // not a UUID
                                        "", "order-42"};
  const std::vector<TimePoint> times = {TimePoint{}, TimePoint(std::chrono::nanoseconds(-5)),
                                        TimePoint(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max())),
                                        TimePoint(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::min()))};
  for (const auto& id : ids) {
    for (const auto& time : times) {
      for (const std::string& uuid : {id, message.id}) {
        Message other("t", "k", "v");
        other.id = uuid;
        other.timestamp = time;
        other.priority = 9;
        other.headers.add("a", "b");
        Message back;
        ASSERT_TRUE(decode_message(encode_message(other), back)) << uuid;
        expect_same_fields(back, other);
      }
    }
  }
  // Every truncation is refused or yields a shorter value, never reads past the end.
  for (std::size_t n = 0; n < frame.size(); ++n) {
    Message cut;
    if (decode_message(frame.substr(0, n), cut)) {
      EXPECT_LT(cut.value.size(), message.value.size());
    }
  }
}

TEST(Url, TlsIsAClearErrorNamingTheHiredisThatWouldDoIt) {
  try {
    Client client("rediss://app:topsecret@127.0.0.1:6380", Config::defaults("development"));
    FAIL() << "rediss:// opened";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::not_supported);
    EXPECT_NE(std::string(error.what()).find("hiredis 1.0.0"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("0.14.1"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find("topsecret"), std::string::npos) << error.what();
  }
}

TEST(Url, BadDatabaseAndUnknownPropertiesAreInvalidArguments) {
  EXPECT_THROW(
      {
        try {
          Client client("redis://127.0.0.1:9/zero", Config::defaults("development"));
        } catch (const Error& error) {
          EXPECT_EQ(error.code(), ErrorCode::invalid_argument) << error.what();
          throw;
        }
      },
      Error);
  auto config = Config::defaults("development");
  config.engine_properties["redis.no_such_thing"] = "1";
  try {
    Client client("redis://127.0.0.1:9", config);
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(error.what()).find("redis.no_such_thing"), std::string::npos) << error.what();
  }
}

TEST(Auth, WrongPasswordIsAConnectionErrorWithoutThePassword) {
  Server server;
  const auto url = server.url();
  // The test server has no password; AUTH with one fails ("WRONGPASS" or "no password").
  auto config = test_config("redis://someone:wr0ng-pass@" + url.substr(8));
  try {
    Client client(config);
    FAIL() << "AUTH with a wrong password succeeded";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::connection) << error.what();
    EXPECT_EQ(std::string(error.what()).find("wr0ng-pass"), std::string::npos) << error.what();
  }
}

class DedupStoreTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DedupStoreTest, ClaimsLeasesCompletionsAndReleases) {
  Server server;
  auto config = test_config(server.url());
  config.engine_properties["redis.dedup_layout"] = GetParam();
  auto engine = core::open_engine(server.url(), config);
  auto store = engine->dedup_store();
  ASSERT_NE(store, nullptr);
  using Claim = core::DedupStore::Claim;
  EXPECT_EQ(store->claim("g", "id-1", 10s), Claim::acquired);
  EXPECT_EQ(store->claim("g", "id-1", 10s), Claim::busy);
  store->release("g", "id-1");
  EXPECT_EQ(store->claim("g", "id-1", 10s), Claim::acquired);
  store->complete("g", "id-1", 1s);
  EXPECT_EQ(store->claim("g", "id-1", 10s), Claim::done);
  store->release("g", "id-1");  // a completion is not a claim: it stays
  EXPECT_EQ(store->claim("g", "id-1", 10s), Claim::done);
  // The group layout keeps groups apart; the seed layout is one key for all groups.
  EXPECT_EQ(store->claim("other", "id-1", 10s), GetParam() == "seed" ? Claim::done : Claim::acquired);
  // A lease ends by itself (a member died mid-processing), and so does the window.
  EXPECT_EQ(store->claim("g", "id-2", 100ms), Claim::acquired);
  EXPECT_TRUE(wait_until([&] { return store->claim("g", "id-2", 10s) == Claim::acquired; }, 5s));
  EXPECT_TRUE(wait_until([&] { return store->claim("g", "id-1", 10s) == Claim::acquired; }, 5s));
  engine->close();
}

INSTANTIATE_TEST_SUITE_P(Layouts, DedupStoreTest, ::testing::Values("group", "seed"));

// The durable retry store: another engine (a restarted consumer) sees a saved retry at
// once; an erase reaches other engines within their background refresh; entries due
// longer than redis.retry_keep ago are dropped, and the keys expire.
TEST(RetryStore, SavedRetriesAreSharedErasedAndExpire) {
  Server server;
  auto config = test_config(server.url());
  config.engine_properties["redis.retry_keep"] = "300";
  auto first = core::open_engine(server.url(), config);
  auto second = core::open_engine(server.url(), config);
  ASSERT_NE(first->retry_store(), nullptr);
  EXPECT_TRUE(first->capabilities().durable_retry);
  const auto due = TimePoint{} + std::chrono::milliseconds(
                                     std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count() + 2000);
  EXPECT_FALSE(second->retry_store()->find("g", "id-1"));  // the group is followed from now on
  first->retry_store()->save("g", "id-1", core::RetryStore::Entry{3, due});
  first->retry_store()->save("g", "id-2", core::RetryStore::Entry{2, due});
  const auto seen = first->retry_store()->find("g", "id-1");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->attempt, 3);
  EXPECT_EQ(seen->due, due);
  EXPECT_FALSE(first->retry_store()->find("other-group", "id-1"));
  // The second engine's cache catches up through its background thread (20 ms ticks).
  EXPECT_TRUE(wait_until([&] { return second->retry_store()->find("g", "id-2").has_value(); }, 5s));
  auto third = core::open_engine(server.url(), config);  // a restart: its first lookup reads the hash
  const auto fresh = third->retry_store()->find("g", "id-1");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->attempt, 3);
  first->retry_store()->erase("g", "id-2");
  EXPECT_FALSE(first->retry_store()->find("g", "id-2"));
  EXPECT_TRUE(wait_until([&] { return !second->retry_store()->find("g", "id-2").has_value(); }, 5s));
  // Due in 2 s, kept 300 ms after that: gone from the server after about 2.3 s.
  EXPECT_TRUE(wait_until(
      [&] {
        auto later = core::open_engine(server.url(), config);
        return !later->retry_store()->find("g", "id-1").has_value();
      },
      10s));
  for (auto* engine : {first.get(), second.get(), third.get()}) engine->close();
}

TEST(Reconnect, SyncSendsDuringAnOutageFailOrSucceedAndTheClientRecovers) {
  Server server;
  Client client(test_config(server.url()));
  auto producer = client.producer();
  producer.send(Message("outage", "before"));
  ASSERT_TRUE(server.run("down"));
  try {
    producer.send(Message("outage", "during"));
    ADD_FAILURE() << "a send succeeded with the server down";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::connection) << error.what();
  }
  ASSERT_TRUE(server.run("up"));
  // The connection comes back within the backoff (at most 1 s between attempts).
  EXPECT_TRUE(wait_until(
      [&] {
        try {
          producer.send(Message("outage", "after"));
          return true;
        } catch (const Error&) {
          return false;
        }
      },
      10s));
}

TEST(Delay, AnotherClientMovesDelayedMessagesOfAClosedOne) {
  Server server;
  {
    Client sender(test_config(server.url()));
    auto producer = sender.producer();
    for (int i = 0; i < 50; ++i) producer.send_after(Message("later", std::to_string(i)), 500ms);
    producer.close();
  }  // the sender is gone before anything is due
  Client receiver(test_config(server.url()));
  Seen seen;
  auto options = receiver.config().consumer;
  options.group = "delay.group";
  options.topics = {"later"};
  options.start = StartPosition::earliest;
  auto consumer = receiver.consumer(options, [&](const Message& message) {
    seen.add(message.value);
    return Outcome::ack();
  });
  EXPECT_TRUE(seen.wait_for(50, 10s));
  consumer.stop();
  EXPECT_EQ(seen.counts().size(), 50u);
  for (const auto& [value, count] : seen.counts()) EXPECT_EQ(count, 1) << value;
}

// A rolling upgrade: producers that write version-1 frames (redis.frame_version=1) and
// current ones share a topic; a consumer reads both, every field intact, immediate and
// delayed messages alike.
TEST(Codec, StreamsWithBothFrameVersionsAreConsumed) {
  Server server;
  auto old_config = test_config(server.url());
  old_config.engine_properties["redis.frame_version"] = "1";
  Client old_client(old_config), new_client(test_config(server.url()));
  for (Client* client : {&old_client, &new_client}) {
    auto producer = client->producer();
    for (int i = 0; i < 20; ++i) {
      Message message("mixed", "key-" + std::to_string(i % 3), (client == &old_client ? "old-" : "new-") + std::to_string(i));
      message.headers.add("h", std::to_string(i));
      if (i % 5 == 0) producer.send_after(std::move(message), 50ms);
      else producer.send(std::move(message));
    }
  }
  Seen seen;
  std::atomic<bool> intact{true};
  auto options = new_client.config().consumer;
  options.group = "mixed.group";
  options.topics = {"mixed"};
  options.start = StartPosition::earliest;
  auto consumer = new_client.consumer(options, [&](const Message& message) {
    const auto i = std::stoi(message.value.substr(4));
    if (message.key != "key-" + std::to_string(i % 3) || message.headers.find("h") != std::to_string(i) ||
        message.id.size() != 36 || message.timestamp == TimePoint{}) {
      intact = false;
    }
    seen.add(message.value);
    return Outcome::ack();
  });
  EXPECT_TRUE(seen.wait_for(40, 10s));
  consumer.stop();
  EXPECT_EQ(seen.counts().size(), 40u);
  for (const auto& [value, count] : seen.counts()) EXPECT_EQ(count, 1) << value;
  EXPECT_TRUE(intact);
}

// C33's scenario on the lanes: 1,000 priority-0 messages queued, then 10 priority-9.
TEST(Priority, HigherLanesAreHandledFirst) {
  Server server;
  Client client(test_config(server.url()));
  client.admin().create_topic("urgent", TopicOptions{.partitions = 1});
  auto producer = client.producer();
  std::vector<Message> batch;
  for (int i = 0; i < 1000; ++i) batch.emplace_back("urgent", "low-" + std::to_string(i));
  producer.send_batch(std::move(batch));
  for (int i = 0; i < 10; ++i) {
    Message message("urgent", "high-" + std::to_string(i));
    message.priority = 9;
    producer.send(message);
  }
  std::mutex mutex;
  std::vector<std::string> order;
  const auto options = one_worker_from_start(client, "priority.group", "urgent");
  auto consumer = client.consumer(options, [&](const Message& message) {
    std::lock_guard lock(mutex);
    order.push_back(message.value);
    return Outcome::ack();
  });
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mutex);
        return order.size() == 1010;
      },
      30s));
  consumer.stop();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], "high-" + std::to_string(i));
  const auto info = client.admin().describe_group("priority.group");
  ASSERT_EQ(info.partitions.size(), 1u);  // the lane counts towards its partition
  EXPECT_EQ(info.partitions[0].end, 1010);
  EXPECT_EQ(info.partitions[0].committed, 1010);
}

TEST(Admin, GroupLagIsSentMinusAcked) {
  Server server;
  Client client(test_config(server.url()));
  client.admin().create_topic("lagging", TopicOptions{.partitions = 2});
  auto producer = client.producer();
  for (int i = 0; i < 10; ++i) producer.send(Message("lagging", std::to_string(i)));
  std::atomic<int> handled{0};
  auto options = client.config().consumer;
  options.group = "lag.group";
  options.topics = {"lagging"};
  options.start = StartPosition::earliest;
  {
    auto consumer = client.consumer(options, [&](const Message&) {
      ++handled;
      return Outcome::ack();
    });
    ASSERT_TRUE(wait_until([&] { return handled == 10; }, 10s));
    consumer.stop();
  }
  for (int i = 0; i < 5; ++i) producer.send(Message("lagging", std::to_string(i)));
  const auto info = client.admin().describe_group("lag.group");
  ASSERT_EQ(info.partitions.size(), 2u);
  EXPECT_EQ(info.total_lag(), 5);
  std::int64_t committed = 0;
  for (const auto& partition : info.partitions) committed += partition.committed;
  EXPECT_EQ(committed, 10);
  const auto topics = client.admin().list_topics();
  ASSERT_EQ(topics.size(), 1u);
  EXPECT_EQ(topics[0].messages, 15u);
}

// A backlog is read with read-ahead (the next XREADGROUP is in flight while the runtime
// handles the last one). Killing every client connection of the server twice mid-run,
// with a read-ahead likely outstanding, must lose nothing and hand nothing out twice:
// what the lost replies delivered is read back from the member's pending list.
TEST(ReadAhead, KilledConnectionsMidBacklogLoseNothingAndDeliverNothingTwice) {
  Server server;
  Client client(test_config(server.url()));
  client.admin().create_topic("backlog", TopicOptions{.partitions = 1});
  constexpr int total = 20'000;
  {
    auto producer = client.producer();
    std::vector<Message> batch;
    for (int i = 0; i < total; ++i) {
      batch.emplace_back("backlog", std::to_string(i));
      if (batch.size() == 1'000) producer.send_batch(std::exchange(batch, {}));
    }
  }
  ServerAddress address;
  address.port = std::stoi(server.url().substr(server.url().rfind(':') + 1));
  Connection killer(address);
  Seen seen;
  std::atomic<int> handled{0}, kills{0};
  const auto options = one_worker_from_start(client, "backlog.group", "backlog");
  auto consumer = client.consumer(options, [&](const Message& message) {
    seen.add(message.value);
    const int count = ++handled;
    if (count == 5'000 || count == 12'000) {
      const Reply reply = killer.command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
      if (!reply.is_error()) kills += static_cast<int>(reply.integer());
    }
    return Outcome::ack();
  });
  ASSERT_TRUE(seen.wait_for(total, 60s)) << seen.counts().size() << " of " << total;
  consumer.stop();
  EXPECT_GE(kills.load(), 2);  // the reader's connection at least, each time
  const auto counts = seen.counts();
  int twice = 0;
  for (const auto& [value, count] : counts) twice += count > 1 ? 1 : 0;
  EXPECT_EQ(counts.size(), static_cast<std::size_t>(total));
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(handled.load(), total);
}

}  // namespace
}  // namespace mq::engines::redis
