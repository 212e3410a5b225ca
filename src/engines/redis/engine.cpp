#include "engines/redis/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "core/logging.hpp"
#include "core/partitioner.hpp"
#include "engines/redis/codec.hpp"
#include "mq/names.hpp"

namespace mq::engines::redis {
namespace {

std::int64_t to_ms(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// Due times are kept in whole milliseconds, rounded up: never delivered before due.
std::int64_t due_ms(TimePoint time) {
  return std::chrono::ceil<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

// A unique member of the delay set for one delayed message (the same message id may be
// delayed more than once).
std::string delay_token(const std::string& message_id) {
  static std::atomic<std::uint64_t> counter{0};
  thread_local const std::uint64_t salt = std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32);
  return fmt::format("{}:{:x}:{:x}", message_id, salt, counter.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace

RedisEngine::RedisEngine(Settings settings)
    : settings_(std::move(settings)),
      capabilities_{.engine = "redis", .durable = true, .multi_process = true, .native_delay = true,
                    .priority = true, .offsets = false, .server = true, .durable_retry = true},
      pool_(settings_.address, settings_.pool_size) {
  pool_.acquire()->ensure();  // an unreachable server is an error here (C26), not at first use
  dedup_ = make_dedup_store(*this);
  retries_ = make_retry_store(*this);
  background_ = std::thread([this] { background_loop(); });
}

RedisEngine::~RedisEngine() { close(); }

void RedisEngine::check_open() const {
  if (closed_.load(std::memory_order_acquire)) {
    throw Error(ErrorCode::closed, fmt::format("redis engine for {} is closed", settings_.address.redacted));
  }
}

std::shared_ptr<core::DedupStore> RedisEngine::dedup_store() { return dedup_; }
std::shared_ptr<core::RetryStore> RedisEngine::retry_store() { return retries_; }

std::string RedisEngine::frame_of(const Message& message) const {
  return settings_.frame_version == 1 ? encode_message_v1(message) : encode_message(message);
}

void RedisEngine::append_command(Commands& commands, const core::Envelope& envelope, const std::string& stream) {
  const Message& message = envelope.message;
  if (envelope.due != TimePoint{}) {
    return commands.add(delay_add_script().command({keys::delay_due, keys::delay_payload},
                                                   {delay_token(message.id), std::to_string(due_ms(envelope.due)),
                                                    stream + "\n" + frame_of(message)}));
  }
  commands.begin(5);
  commands.arg("XADD");
  commands.arg(stream);
  commands.arg("*");
  commands.arg(message_field);
  if (settings_.frame_version == 1) return commands.arg(encode_message_v1(message));
  // The frame is written straight into the command: no copy of the message on the way.
  const Frame frame(message);
  frame.write(commands.reserve(frame.size()));
}

static std::optional<Args> trim_command(const std::string& stream, const TopicEntry& topic, std::int64_t now_ms) {
  if (topic.maxlen > 0) return Args{"XTRIM", stream, "MAXLEN", "~", std::to_string(topic.maxlen)};
  if (topic.retention_ms > 0) return Args{"XTRIM", stream, "MINID", "~", std::to_string(now_ms - topic.retention_ms)};
  return std::nullopt;
}

void RedisEngine::append(std::vector<core::Envelope> batch, Acks, core::AppendCallback done) {
  // Acks: with appendfsync always the server replies only after the AOF write is
  // fsynced, so every level waits for the same thing (README.md, "Durability").
  std::vector<core::AppendResult> results(batch.size());
  if (closed_.load(std::memory_order_acquire)) {
    for (auto& result : results) result.status = Status(ErrorCode::closed, "redis engine is closed");
    return done(std::move(results));
  }
  const TimePoint now = Clock::now();
  Commands commands;
  std::vector<std::size_t> owners;  // command k stores batch[owners[k]]; npos: a lane registration or XTRIM
  std::map<std::pair<std::string, int>, std::size_t> new_lanes;  // (topic, priority) -> its command
  // Retention: one XTRIM per stream after the batch's XADDs, rather than MINID/MAXLEN on
  // every XADD: the same approximate trimming with fewer bytes per message, which is
  // what the server's `appendfsync always` pays for (bench/RESULTS.md).
  std::map<std::string, Args> trims;
  std::optional<TopicEntry> topic;  // of the previous message: a batch is mostly one topic
  const std::string* topic_name = nullptr;
  // The stream key of the previous message: a batch mostly goes to one stream.
  std::string stream;
  const std::string* stream_topic = nullptr;
  int stream_partition = -1, stream_priority = -1;
  commands.reserve_bytes(batch.size() * (64 + (batch.empty() ? 0 : batch.front().message.value.size())));
  owners.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Message& message = batch[i].message;
    results[i].receipt = Receipt{message.topic, -1, -1, message.id, {}, {}};
    try {
      // Internal topics (dead letters, retries) are always created on demand.
      const bool create = settings_.auto_create_topics || message.topic.starts_with(names::reserved_topic_prefix);
      if (!topic_name || *topic_name != message.topic) {
        topic = this->topic(message.topic, create);
        topic_name = &message.topic;
      }
      if (!topic) {
        results[i].status = Status(ErrorCode::not_found,
                                   fmt::format("topic '{}' does not exist (auto_create_topics is off)", message.topic));
        continue;
      }
      if (message.partition >= topic->partitions) {
        results[i].status = Status(ErrorCode::invalid_argument,
                                   fmt::format("topic '{}' has {} partitions; partition {} does not exist",
                                               message.topic, topic->partitions, message.partition));
        continue;
      }
      if (message.partition < 0) {
        message.partition =
            message.key ? core::partition_for_key(*message.key, topic->partitions)
                        : static_cast<int>(topic->round_robin->fetch_add(1, std::memory_order_relaxed) %
                                           static_cast<std::uint64_t>(topic->partitions));
      }
      results[i].receipt.partition = message.partition;
      if (batch[i].due > now) {
        results[i].receipt.due = batch[i].due;
      } else {
        batch[i].due = TimePoint{};
      }
      message.priority = std::clamp(message.priority, 0, 9);
      if (message.priority > 0 && !topic->lanes.count(message.priority) &&
          !new_lanes.count({message.topic, message.priority})) {
        // Registered before the first XADD into the lane, in the same pipeline, so that
        // subscribers find the lane before they could miss anything in it.
        new_lanes.emplace(std::pair{message.topic, message.priority}, commands.count());
        commands.add(register_lane_script().command({keys::topic_meta(message.topic), keys::topics_version},
                                                    {keys::lane_field(message.priority)}));
        owners.push_back(std::string::npos);
      }
      if (!stream_topic || *stream_topic != message.topic || stream_partition != message.partition ||
          stream_priority != message.priority) {
        stream = keys::lane(message.topic, message.partition, message.priority);
        stream_topic = &message.topic;
        stream_partition = message.partition;
        stream_priority = message.priority;
      }
      if (batch[i].due == TimePoint{} && (topic->maxlen > 0 || topic->retention_ms > 0) && !trims.count(stream)) {
        if (auto trim = trim_command(stream, *topic, to_ms(now))) trims.emplace(stream, std::move(*trim));
      }
      append_command(commands, batch[i], stream);
      owners.push_back(i);
    } catch (const Error& error) {
      results[i].status = error.status();
    }
  }
  for (auto& [trimmed, trim] : trims) {
    commands.add(trim);  // its reply belongs to no message
    owners.push_back(std::string::npos);
  }
  if (!commands.empty()) {
    Status failure;
    std::vector<Reply> replies;
    {
      auto connection = pool_.acquire();
      replies = connection->pipeline(commands, "XADD", failure);
    }
    for (const auto& [lane, k] : new_lanes) {
      if (k < replies.size() && !replies[k].is_error()) {
        std::lock_guard lock(topics_mutex_);
        if (auto it = topics_.find(lane.first); it != topics_.end()) it->second.lanes.emplace(lane.second, 0);
      }
    }
    for (std::size_t k = 0; k < commands.count(); ++k) {
      if (owners[k] == std::string::npos) continue;
      auto& result = results[owners[k]];
      if (k >= replies.size()) {
        // Sent or not, its outcome is unknown: an error, never a silent loss.
        result.status = failure;
      } else if (replies[k].is_error()) {
        result.status = reply_status(settings_.address, fmt::format("append to '{}'", result.receipt.topic), replies[k]);
      } else if (!result.receipt.due) {
        result.receipt.engine_id = std::string(replies[k].text());
      }
    }
  }
  done(std::move(results));
}

void RedisEngine::add_member(const std::string& key) {
  std::lock_guard lock(members_mutex_);
  members_.insert(key);
}

void RedisEngine::remove_member(const std::string& key) {
  std::lock_guard lock(members_mutex_);
  members_.erase(key);
}

void RedisEngine::refresh_members(Connection& connection) {
  // members_mutex_ is held until the SETs are answered: a member that leaves meanwhile
  // (remove_member, then DEL of its key) waits, so that no SET of this round re-creates
  // its key after the DEL. Such a key kept a closed member alive for member_ttl (5 s), and
  // the next member could not take over its pending messages until then (C14 under CI).
  std::lock_guard lock(members_mutex_);
  if (members_.empty()) return;
  std::vector<Args> commands;
  for (const auto& key : members_) {
    commands.push_back(Args{"SET", key, "1", "PX", std::to_string(settings_.member_ttl.count())});
  }
  Status failure;
  connection.pipeline(commands, failure);
  if (!failure.ok()) throw Error(failure);
}

void RedisEngine::move_due_delays(Connection& connection) {
  constexpr int limit = 500;
  for (int round = 0; round < 20; ++round) {
    const auto moved = checked(settings_.address, "delay mover",
                               delay_move_script().run(connection, {keys::delay_due, keys::delay_payload},
                                                       {std::to_string(limit)}));
    if (moved.integer() < limit) return;
  }
}

void RedisEngine::background_loop() {
  using std::chrono::steady_clock;
  Connection connection(settings_.address);
  auto next_heartbeat = steady_clock::now();
  bool failing = false;  // log an outage once, not every tick
  std::unique_lock lock(background_mutex_);
  while (!stopping_) {
    background_wake_.wait_for(lock, settings_.mover_interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      if (steady_clock::now() >= next_heartbeat) {
        refresh_members(connection);
        next_heartbeat = steady_clock::now() + settings_.heartbeat;
      }
      move_due_delays(connection);
      retries_->refresh_all(connection);
      if (failing) core::log(LogLevel::info, "redis {}: background work resumed", settings_.address.where());
      failing = false;
    } catch (const std::exception& error) {
      if (!failing) core::log(LogLevel::warning, "redis: heartbeat/delay mover: {}", error.what());
      failing = true;
    }
    lock.lock();
  }
}

void RedisEngine::close() {
  if (closed_.exchange(true)) return;
  {
    std::lock_guard lock(background_mutex_);
    stopping_ = true;
  }
  background_wake_.notify_all();
  if (background_.joinable()) background_.join();
}

}  // namespace mq::engines::redis

namespace mq::engines {
std::shared_ptr<core::Engine> make_redis_engine(const core::EngineUrl& url, const Config& config) {
  return std::make_shared<redis::RedisEngine>(redis::settings_from(url, config));
}
}  // namespace mq::engines
