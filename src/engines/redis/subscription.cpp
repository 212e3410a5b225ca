#include "engines/redis/subscription.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "core/logging.hpp"
#include "engines/redis/codec.hpp"

namespace mq::engines::redis {
namespace {

using std::chrono::steady_clock;

constexpr milliseconds refresh_interval{500};  // new topics for patterns: well within C10's 5 s
constexpr std::size_t reclaim_limit = 256;     // entries taken over per dead consumer and stream per round
// Queued acks that start a flush from the acking worker (a round trip on its thread).
// Above a read's COUNT, so that acks normally ride along with the member's next read
// (read-ahead keeps those frequent) and ack_linger bounds their wait otherwise.
constexpr std::size_t ack_batch = 1024;
constexpr milliseconds ack_linger{2};          // the longest an ack waits for others to share its XACK

// Unique among every member of every process: host, pid and a random part (pids repeat).
std::string consumer_name() {
  static std::atomic<std::uint64_t> counter{0};
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return fmt::format("{}-{}-{:x}-{}", host, ::getpid(), std::random_device{}(), counter++);
}

}  // namespace

RedisSubscription::RedisSubscription(RedisEngine& engine, const core::SubscriptionSpec& spec)
    : engine_(engine),
      group_(spec.group),
      consumer_(consumer_name()),
      member_key_(keys::member_prefix(spec.group) + consumer_),
      filter_(spec.topics),
      start_(spec.start),
      reader_(engine.settings().address) {
  reader_.use_reply_arena();  // bulk reads; every reply is used before the next read
  auto connection = engine_.pool().acquire();
  const auto time = checked(engine_.settings().address, "TIME", connection->command(Args{"TIME"}));
  joined_ms_ = integer_of(time.element(0)) * 1000 + integer_of(time.element(1)) / 1000;
  // Alive before the first read, so that no other member takes what this one reads.
  Status failure;
  connection->pipeline({Args{"SET", member_key_, "1", "PX", std::to_string(engine_.settings().member_ttl.count())},
                        Args{"SADD", keys::groups, group_}, Args{"SADD", keys::group_members(group_), consumer_}},
                       failure);
  if (!failure.ok()) throw Error(failure);
  engine_.add_member(member_key_);
  try {
    refresh(*connection, true);
    reclaim(*connection);
  } catch (...) {
    engine_.remove_member(member_key_);
    throw;
  }
}

RedisSubscription::~RedisSubscription() { close(); }

void RedisSubscription::refresh(Connection& connection, bool force) {
  next_refresh_ = steady_clock::now() + refresh_interval;
  const auto version = checked(engine_.settings().address, "topic registry",
                               connection.command(Args{"GET", keys::topics_version}));
  const std::string current = version.is_nil() ? "0" : std::string(version.text());
  if (!force && current == topics_version_) return;
  const auto topics = engine_.registry(connection);
  std::map<std::string, StreamInfo> wanted;
  std::vector<Args> commands;
  for (const auto& [name, entry] : topics) {
    if (!filter_.matches(name)) continue;
    for (auto& stream : streams_of(name, entry)) {
      if (!streams_.count(stream.key)) {
        // "latest" for a topic (or lane) created after this member joined means all of it
        // (as in the memory engine), else a pattern subscriber would miss every new
        // topic's first messages. The first member to create the group fixes its start
        // for everyone (BUSYGROUP after).
        const bool from_start = start_ == StartPosition::earliest || stream.created_ms > joined_ms_;
        commands.push_back(Args{"XGROUP", "CREATE", stream.key, group_, from_start ? "0" : "$", "MKSTREAM"});
        commands.push_back(Args{"SADD", keys::group_streams(group_), stream.key});
      }
      wanted.emplace(std::move(stream.key), StreamInfo{name, stream.partition});
    }
  }
  Status failure;
  const auto replies = connection.pipeline(commands, failure);
  if (!failure.ok()) throw Error(failure);
  for (const auto& reply : replies) {
    if (reply.is_error() && !reply.text().starts_with("BUSYGROUP")) {
      throw Error(reply_status(engine_.settings().address, fmt::format("join group '{}'", group_), reply));
    }
  }
  streams_ = std::move(wanted);
  topics_version_ = current;
  read_command_ = Args{"XREADGROUP", "GROUP", group_, consumer_, "COUNT", "0", "BLOCK", "0", "STREAMS"};
  for (const auto& [key, info] : streams_) read_command_.push_back(key);
  read_command_.insert(read_command_.end(), streams_.size(), ">");
  ahead_command_ = read_command_;
  ahead_command_.erase(ahead_command_.begin() + 6, ahead_command_.begin() + 8);  // no BLOCK
  lanes_command_ = Args{"XREADGROUP", "GROUP", group_, consumer_, "COUNT", "0", "STREAMS"};
  std::size_t lanes = 0;
  for (const auto& [key, info] : streams_) {
    if (parse_stream_key(key).value_or(StreamName{}).priority == 0) continue;
    lanes_command_.push_back(key);
    ++lanes;
  }
  lanes_command_.insert(lanes_command_.end(), lanes, ">");
  if (lanes == 0) lanes_command_.clear();
}

const std::string* RedisSubscription::intern(const std::string& stream) {
  return &*stream_names_.insert(stream).first;
}

void RedisSubscription::buffer_entries(const std::string& stream, const redisReply* entries,
                                       const std::set<EntryId>* skip) {
  const auto info = streams_.find(stream);
  if (is_nil(entries) || entries->type != REDIS_REPLY_ARRAY) return;
  const std::string* name = intern(stream);
  std::vector<std::string> skipped;
  bool prioritized = false;
  std::unique_lock lock(held_mutex_);
  for (std::size_t i = 0; i < entries->elements; ++i) {
    const redisReply* entry = entries->element[i];
    if (is_nil(entry) || entry->elements != 2) continue;  // deleted (trimmed) meanwhile
    Buffered buffered{Message{}, name, std::string(text_of(entry->element[0]))};
    if (skip && skip->count({name, buffered.id})) continue;  // already ours, buffered or in flight
    const redisReply* fields = entry->element[1];
    bool decoded = false;
    for (std::size_t f = 0; !is_nil(fields) && f + 1 < fields->elements; f += 2) {
      if (text_of(fields->element[f]) == message_field) {
        decoded = decode_message(text_of(fields->element[f + 1]), buffered.message);
      }
    }
    if (!decoded || info == streams_.end()) {
      // Not an mq entry (written by another tool) or a stream left meanwhile: ack it
      // rather than let it come back forever.
      core::log(LogLevel::error, "redis: group '{}': skipping entry {} of {}: not an mq message", group_,
                buffered.id, stream);
      skipped.push_back(std::move(buffered.id));
      continue;
    }
    buffered.message.topic = info->second.topic;
    buffered.message.partition = info->second.partition;
    buffered.message.offset = -1;  // stream ids are not offsets (README.md)
    prioritized = prioritized || buffered.message.priority > 0;
    buffer_.push_back(std::move(buffered));
  }
  // Priority lanes: what is buffered goes out highest priority first (stable: each
  // stream's entries stay in stream order).
  if (prioritized) {
    std::stable_sort(buffer_.begin(), buffer_.end(),
                     [](const Buffered& a, const Buffered& b) { return a.message.priority > b.message.priority; });
  }
  lock.unlock();
  if (skipped.empty()) return;
  std::lock_guard acks(ack_mutex_);  // lock order: never under held_mutex_
  auto& queued = pending_acks_[name];
  queued.insert(queued.end(), skipped.begin(), skipped.end());
}

void RedisSubscription::reclaim(Connection& connection) {
  const auto& settings = engine_.settings();
  next_reclaim_ = steady_clock::now() + settings.reclaim_interval;
  if (streams_.empty()) return;
  std::vector<Args> commands;
  std::vector<std::string> targets;
  for (const auto& [key, info] : streams_) {
    commands.push_back(reclaim_script().command(
        {key}, {group_, consumer_, keys::member_prefix(group_), std::to_string(reclaim_limit)}));
    targets.push_back(key);
    if (settings.visibility_timeout.count() > 0) {
      commands.push_back(Args{"XAUTOCLAIM", key, group_, consumer_, std::to_string(settings.visibility_timeout.count()),
                              "0-0", "COUNT", std::to_string(reclaim_limit)});
      targets.push_back(key);
    }
  }
  Status failure;
  const auto replies = connection.pipeline(commands, failure);
  const auto held = held_entries();  // XAUTOCLAIM may return what this member holds already
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error()) continue;  // NOGROUP: the topic was deleted; refresh drops it
    const bool autoclaim = commands[i].front() == "XAUTOCLAIM";
    if (autoclaim && replies[i].size() >= 2) buffer_entries(targets[i], replies[i].element(1), &held);
    if (!autoclaim) buffer_entries(targets[i], replies[i].get(), &held);
  }
  if (!failure.ok()) throw Error(failure);
}

std::set<RedisSubscription::EntryId> RedisSubscription::held_entries() {
  std::set<EntryId> held;
  std::lock_guard acks(ack_mutex_);  // lock order: ack_mutex_ before held_mutex_
  for (const auto& [stream, ids] : pending_acks_) {
    for (const auto& id : ids) held.emplace(stream, id);
  }
  std::lock_guard lock(held_mutex_);
  for (const auto& [token, entry] : in_flight_) held.insert(entry);
  for (const auto& buffered : buffer_) held.emplace(buffered.stream, buffered.id);
  return held;
}

void RedisSubscription::wait_woken(steady_clock::time_point until) {
  std::unique_lock lock(wake_mutex_);
  wake_.wait_until(lock, until, [&] { return woken_.load() || closed_.load(); });
}

std::vector<core::Record> RedisSubscription::poll(std::size_t max, std::chrono::milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  // Acks queued before this poll are sent during it: with a read (read_new), or else on
  // their own as it returns.
  acks_sent_ = false;
  struct FlushUnlessSent {
    RedisSubscription& self;
    ~FlushUnlessSent() {
      if (!self.acks_sent_) self.flush_acks();
    }
  } flush{*this};
  while (!closed_) {
    if (read_ahead_sent_) {
      try {
        collect_read_ahead();
      } catch (const Error& error) {
        if (error.code() != ErrorCode::connection) throw;  // reread_pending_ is set: see below
      }
    }
    if (!buffer_.empty()) {
      try {
        read_lanes(max);
      } catch (const Error&) {
        // The server is away: hand out what is buffered; the next read reports it.
        reread_pending_ = true;
      }
      auto records = take(max);
      if (buffer_.empty()) read_ahead();
      return records;
    }
    if (woken_.exchange(false)) return {};
    try {
      const auto now = steady_clock::now();
      if (now >= next_refresh_ || now >= next_reclaim_) {
        auto connection = engine_.pool().acquire();
        if (now >= next_refresh_) refresh(*connection, false);
        if (now >= next_reclaim_) reclaim(*connection);
        if (!buffer_.empty()) continue;
      }
      if (reread_pending_ && !streams_.empty()) {
        read_own_pending();
        if (!buffer_.empty()) continue;
      }
      const auto until = std::min(deadline, next_refresh_);
      const auto block = std::chrono::duration_cast<milliseconds>(until - steady_clock::now());
      if (block.count() > 0) {
        if (streams_.empty()) {
          wait_woken(until);
        } else {
          read_new(max, block);
        }
      }
      if (failing_) core::log(LogLevel::info, "redis: group '{}': reading again", group_);
      failing_ = false;
    } catch (const Error& error) {
      if (error.code() != ErrorCode::connection) throw;
      reread_pending_ = true;  // a read may have been served without its reply arriving
      // The server is away: keep polling (the connection comes back with backoff) and
      // say so once, not on every poll.
      if (!failing_) core::log(LogLevel::warning, "redis: group '{}': {}", group_, error.what());
      failing_ = true;
      wait_woken(std::min(deadline, steady_clock::now() + milliseconds(100)));
    }
    if (steady_clock::now() >= deadline && buffer_.empty()) return {};
  }
  return {};
}

void RedisSubscription::ack(const core::Record& record) {
  {
    std::lock_guard acks(ack_mutex_);
    std::lock_guard lock(held_mutex_);
    auto it = in_flight_.find(record.token);
    if (it == in_flight_.end()) return;  // not ours (acked twice)
    pending_acks_[it->second.first].push_back(std::move(it->second.second));
    in_flight_.erase(it);
    // Batched commits (the engine contract allows them): an ack goes out with the next
    // flush, which an ack starts once enough are queued or some time has passed, and
    // every poll() and close() starts too. So an ack waits at most ack_linger, or one
    // poll interval when it is the last of a burst.
    if (++queued_acks_ < ack_batch && steady_clock::now() - last_flush_ < ack_linger) return;
  }
  flush_acks();
}

RedisSubscription::AckBatch RedisSubscription::take_acks() {
  std::lock_guard lock(ack_mutex_);
  AckBatch batch = std::move(pending_acks_);
  pending_acks_.clear();
  queued_acks_ = 0;
  last_flush_ = steady_clock::now();
  return batch;
}

void RedisSubscription::requeue_acks(AckBatch batch) {
  std::lock_guard lock(ack_mutex_);
  for (auto& [stream, ids] : batch) {
    auto& queued = pending_acks_[stream];
    queued.insert(queued.end(), std::make_move_iterator(ids.begin()), std::make_move_iterator(ids.end()));
  }
}

std::size_t RedisSubscription::add_acks(Commands& commands, const AckBatch& batch) const {
  for (const auto& [stream, ids] : batch) {
    commands.begin(3 + ids.size());
    commands.arg("XACK");
    commands.arg(*stream);
    commands.arg(group_);
    for (const auto& id : ids) commands.arg(id);
  }
  return batch.size();
}

void RedisSubscription::flush_acks() {
  std::unique_lock lock(ack_mutex_);
  // One flusher at a time; acks queued meanwhile go out with its next round, so every
  // ack is committed by the time the flusher's loop ends (group commit).
  if (flushing_) return;
  flushing_ = true;
  while (!pending_acks_.empty()) {
    lock.unlock();
    auto batch = take_acks();
    Commands commands;
    add_acks(commands, batch);
    Status failure;
    std::size_t sent = 0;
    try {
      auto connection = engine_.pool().acquire();
      sent = connection->pipeline(commands, "XACK", failure).size();
    } catch (const Error& error) {
      failure = error.status();
    }
    if (sent < commands.count()) {
      // Not committed (the server is away): keep them for the next ack, poll or close.
      requeue_acks(std::move(batch));
      lock.lock();
      break;
    }
    lock.lock();
  }
  flushing_ = false;
  ack_idle_.notify_all();
}

void RedisSubscription::wakeup() {
  woken_.store(true);
  {
    std::lock_guard lock(wake_mutex_);
  }
  wake_.notify_all();
  const long long client = blocked_client_.load();
  if (client == 0) return;
  try {
    auto connection = engine_.pool().acquire();
    connection->command(Args{"CLIENT", "UNBLOCK", std::to_string(client)});
  } catch (const Error&) {
    // The server is away: the blocked read fails by itself.
  }
}

void RedisSubscription::close() {
  if (closed_.exchange(true)) return;
  {
    std::unique_lock lock(ack_mutex_);
    ack_idle_.wait(lock, [&] { return !flushing_; });
  }
  flush_acks();
  engine_.remove_member(member_key_);
  try {
    // Gone: what this member did not ack (buffered or in flight) is taken over by the
    // group's other members at their next reclaim, or by the next member to join.
    auto connection = engine_.pool().acquire();
    Status failure;
    connection->pipeline({Args{"DEL", member_key_}, Args{"SREM", keys::group_members(group_), consumer_}}, failure);
  } catch (const Error& error) {
    core::log(LogLevel::warning, "redis: group '{}': leaving: {}", group_, error.what());
  }
  reader_.reset();
}

std::unique_ptr<core::Subscription> RedisEngine::subscribe(const core::SubscriptionSpec& spec) {
  check_open();
  return std::make_unique<RedisSubscription>(*this, spec);
}

}  // namespace mq::engines::redis
