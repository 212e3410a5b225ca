// redis://[user:password@]host:port[/db] — Redis Streams (hiredis). README.md in this
// folder maps mq's concepts onto Redis; codec.hpp names every key.
//
// Files: engine.cpp (append, topic cache, background thread: heartbeats, the delay
// mover, retry caches), admin.cpp, subscription.cpp (consumer groups), dedup.cpp
// (DedupStore), retry.cpp (RetryStore), scripts.cpp (the Lua scripts), url.cpp,
// codec.cpp, connection.cpp, errors.cpp.
//
// Threads: one background thread per engine. Appends and admin calls run on the
// caller's thread with a pooled connection; each subscription reads on its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.hpp"
#include "core/engine_registry.hpp"
#include "engines/redis/connection.hpp"
#include "engines/redis/retry.hpp"

namespace mq::engines::redis {

enum class DedupLayout {
  group,  // mq:dedup:<group>:<id> = busy | done (claims with leases)
  seed,   // msg:processed:<id>, shared by all groups (the seed services' layout)
};

// What the URL, Config and the redis.* engine properties say (url.cpp).
struct Settings {
  ServerAddress address;
  int default_partitions = 4;
  bool auto_create_topics = true;
  std::size_t pool_size = 4;                  // redis.pool_size: command connections
  std::size_t prefetch = 256;                 // redis.prefetch: entries a member reads per stream and call
  std::uint64_t maxlen = 0;                   // redis.maxlen: default MAXLEN ~ per stream; 0: none
  milliseconds member_ttl{5'000};             // redis.member_ttl: a silent member is dead after this
  milliseconds heartbeat{1'000};              // how often live members are refreshed
  milliseconds reclaim_interval{1'000};       // how often a member looks for dead members' messages
  milliseconds visibility_timeout{300'000};   // redis.visibility_timeout: XAUTOCLAIM after; 0: off
  milliseconds mover_interval{20};            // delay mover tick
  DedupLayout dedup_layout = DedupLayout::group;  // redis.dedup_layout=group|seed
  milliseconds retry_keep{86'400'000};        // redis.retry_keep: a retry entry outlives its due time by this
  int frame_version = 2;                      // redis.frame_version: 1 while older consumers still read
};
Settings settings_from(const core::EngineUrl& url, const Config& config);

// A topic as the registry has it (cached per engine).
struct TopicEntry {
  int partitions = 0;
  std::int64_t created_ms = 0;    // Redis TIME when it was registered
  std::int64_t retention_ms = 0;  // MINID trimming; 0: none
  std::uint64_t maxlen = 0;       // MAXLEN trimming; 0: none
  std::map<int, std::int64_t> lanes;  // priority 1..9 -> when its lane streams were registered
  std::shared_ptr<std::atomic<std::uint64_t>> round_robin = std::make_shared<std::atomic<std::uint64_t>>(0);
};

// One stream of a topic: a partition's base stream (priority 0) or a priority lane.
struct StreamRef {
  std::string key;
  int partition = 0;
  int priority = 0;
  std::int64_t created_ms = 0;  // when the topic (base) or the lane was registered
};
std::vector<StreamRef> streams_of(const std::string& topic, const TopicEntry& entry);

class RedisEngine final : public core::Engine {
 public:
  explicit RedisEngine(Settings settings);
  ~RedisEngine() override;

  const core::Capabilities& capabilities() const override { return capabilities_; }
  void append(std::vector<core::Envelope> batch, Acks acks, core::AppendCallback done) override;
  std::unique_ptr<core::Subscription> subscribe(const core::SubscriptionSpec& spec) override;
  void create_topic(const std::string& name, const TopicOptions& options) override;
  void delete_topic(const std::string& name) override;
  std::vector<TopicInfo> list_topics() override;
  std::vector<std::string> list_groups() override;
  GroupInfo describe_group(const std::string& group) override;
  std::shared_ptr<core::DedupStore> dedup_store() override;
  std::shared_ptr<core::RetryStore> retry_store() override;
  void close() override;

  const Settings& settings() const { return settings_; }
  ConnectionPool& pool() { return pool_; }
  void check_open() const;
  // The registry's entry for `name`; registers it first when `create` (admin.cpp).
  // Null when it does not exist. Throws on connection failure.
  std::optional<TopicEntry> topic(const std::string& name, bool create);
  // Every registered topic (admin.cpp).
  std::map<std::string, TopicEntry> registry(Connection& connection);
  // Live members' names, refreshed by the background thread (subscription.cpp).
  void add_member(const std::string& key);
  void remove_member(const std::string& key);

 private:
  void background_loop();
  void move_due_delays(Connection& connection);
  void refresh_members(Connection& connection);
  std::optional<TopicEntry> register_topic(Connection& connection, const std::string& name, int partitions,
                                           const TopicOptions& options, bool exclusive);
  // XADD to `stream` (or the delay script) for one envelope, added to `commands`.
  void append_command(Commands& commands, const core::Envelope& envelope, const std::string& stream);
  // The frame in the version redis.frame_version asks for.
  std::string frame_of(const Message& message) const;

  const Settings settings_;
  const core::Capabilities capabilities_;
  ConnectionPool pool_;
  std::mutex topics_mutex_;
  std::map<std::string, TopicEntry> topics_;
  std::mutex members_mutex_;
  std::set<std::string> members_;  // liveness keys of this engine's subscriptions
  std::shared_ptr<core::DedupStore> dedup_;
  std::shared_ptr<RedisRetryStore> retries_;
  std::atomic<bool> closed_{false};
  std::mutex background_mutex_;
  std::condition_variable background_wake_;
  bool stopping_ = false;
  std::thread background_;
};

// The Lua scripts (scripts.cpp); each documents its keys and arguments.
const Script& register_topic_script();
const Script& register_lane_script();
const Script& delay_add_script();
const Script& delay_move_script();
const Script& reclaim_script();
const Script& dedup_release_script();
const Script& retry_save_script();
const Script& retry_erase_script();
const Script& retry_read_script();

std::shared_ptr<core::DedupStore> make_dedup_store(RedisEngine& engine);

}  // namespace mq::engines::redis

namespace mq::engines {
std::shared_ptr<core::Engine> make_redis_engine(const core::EngineUrl& url, const Config& config);
}
