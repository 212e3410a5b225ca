// How a member of a consumer group on Redis reads: new entries (blocking XREADGROUP with
// the queued acks riding along), the read-ahead that keeps Redis busy through a backlog,
// higher priority lanes, and its own pending entries after a lost reply. The rest of
// RedisSubscription is in subscription.cpp; thread-safety as stated in subscription.hpp
// (everything here runs on the polling thread).
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <string>
#include <utility>

#include "engines/redis/codec.hpp"
#include "engines/redis/subscription.hpp"

namespace mq::engines::redis {

void RedisSubscription::read_own_pending() {
  // A read whose reply was lost (the connection dropped, the server stopped) may still
  // have been served: its entries are then pending for this member, and no other member
  // takes them over while it lives. Reading from id 0 returns them.
  Args command{"XREADGROUP", "GROUP", group_, consumer_, "COUNT", "100000", "STREAMS"};
  for (const auto& [key, info] : streams_) command.push_back(key);
  command.insert(command.end(), streams_.size(), "0");
  reader_.set_read_timeout(engine_.settings().address.command_timeout);
  const auto held = held_entries();
  const Reply reply = reader_.command(command);
  reread_pending_ = false;
  if (reply.is_error()) return;  // NOGROUP and the like: the next read_new() deals with it
  buffer_streams(reply, &held);
}

std::size_t RedisSubscription::buffer_streams(const Reply& reply, const std::set<EntryId>* skip) {
  const std::size_t before = buffer_.size();
  for (std::size_t i = 0; i < reply.size(); ++i) {
    const redisReply* stream = reply.element(i);
    if (stream->elements == 2) buffer_entries(std::string(text_of(stream->element[0])), stream->element[1], skip);
  }
  return buffer_.size() - before;
}

void RedisSubscription::read_new(std::size_t max, std::chrono::milliseconds block) {
  // Reads ahead of what the runtime asked for: the rest waits in buffer_ (delivered to
  // this member in Redis's eyes, so taken over by others if it dies), which keeps round
  // trips per message low when the runtime asks for a few at a time.
  read_count_ = std::max(max, engine_.settings().prefetch);
  read_command_[5] = std::to_string(read_count_);
  read_command_[7] = std::to_string(std::max<long long>(block.count(), 1));
  reader_.set_read_timeout(block + engine_.settings().address.command_timeout);
  reader_.ensure();
  blocked_client_.store(reader_.client_id());
  // wakeup() sets woken_ before it reads blocked_client_: checking after the store means
  // a wakeup either is seen here or unblocks the read.
  if (woken_.load()) {
    blocked_client_.store(0);
    return;
  }
  // The acks queued since the last flush ride along with the read: one round trip and
  // one pooled connection fewer per poll. XACK is idempotent, so acks whose reply did
  // not come are simply queued again.
  auto acks = take_acks();
  acks_sent_ = true;
  Commands commands;
  add_acks(commands, acks);
  commands.add(read_command_);
  Status failure;
  std::vector<Reply> replies;
  try {
    replies = reader_.pipeline(commands, "XREADGROUP", failure);
  } catch (...) {
    blocked_client_.store(0);
    requeue_acks(std::move(acks));
    throw;
  }
  blocked_client_.store(0);
  finish_read(replies, std::move(acks), failure);
}

void RedisSubscription::finish_read(const std::vector<Reply>& replies, AckBatch acks, const Status& failure) {
  if (replies.size() <= acks.size()) requeue_acks(std::move(acks));  // one XACK per stream
  if (!failure.ok()) {
    reread_pending_ = true;  // the read may have been served without its reply arriving
    throw Error(failure);
  }
  const Reply& reply = replies.back();
  if (reply.is_error()) {
    if (reply.text().starts_with("NOGROUP")) {
      // A stream lost its group (topic deleted, or data lost): join again.
      topics_version_.assign(1, '-');  // "-": not joined (assign: GCC 12 warns wrongly on = "-" here)
      streams_.clear();
      next_refresh_ = {};
      last_read_full_ = false;
      return;
    }
    throw Error(reply_status(engine_.settings().address, fmt::format("read for group '{}'", group_), reply));
  }
  last_read_full_ = buffer_streams(reply) >= read_count_;
}

void RedisSubscription::read_ahead() {
  if (!last_read_full_ || read_ahead_sent_ || closed_ || woken_ || streams_.empty() || reread_pending_ ||
      !reader_.connected()) {
    return;
  }
  auto acks = take_acks();
  Commands commands;
  add_acks(commands, acks);
  ahead_command_[5] = read_command_[5];  // the COUNT of the last read
  commands.add(ahead_command_);
  try {
    reader_.send(commands, "XREADGROUP");
  } catch (const Error&) {
    // Perhaps sent in part: read_own_pending() asks for whatever it delivered.
    requeue_acks(std::move(acks));
    reread_pending_ = true;
    return;
  }
  acks_sent_ = true;
  read_ahead_sent_ = true;
  ahead_acks_ = std::move(acks);
}

void RedisSubscription::collect_read_ahead() {
  read_ahead_sent_ = false;
  AckBatch acks = std::exchange(ahead_acks_, {});
  reader_.set_read_timeout(engine_.settings().address.command_timeout);
  Status failure;
  const auto replies = reader_.receive(acks.size() + 1, "XREADGROUP", failure);  // the XACKs, then the read
  finish_read(replies, std::move(acks), failure);
}

void RedisSubscription::read_lanes(std::size_t max) {
  if (lanes_command_.empty() || buffer_.empty() || buffer_.front().message.priority == 9) return;
  lanes_command_[5] = std::to_string(std::max<std::size_t>(max, 1));
  reader_.set_read_timeout(engine_.settings().address.command_timeout);
  const Reply reply = reader_.command(lanes_command_);
  if (reply.is_error()) return;  // NOGROUP and the like: the next read_new() deals with it
  buffer_streams(reply);
}

std::vector<core::Record> RedisSubscription::take(std::size_t max) {
  std::vector<core::Record> records;
  std::lock_guard lock(held_mutex_);
  while (!buffer_.empty() && records.size() < max) {
    auto& front = buffer_.front();
    const auto token = next_token_++;
    in_flight_.emplace(token, EntryId{front.stream, std::move(front.id)});
    records.push_back(core::Record{std::move(front.message), token});
    buffer_.pop_front();
  }
  return records;
}

}  // namespace mq::engines::redis
