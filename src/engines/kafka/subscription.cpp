#include "engines/kafka/subscription.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <set>

#include "core/logging.hpp"
#include "mq/names.hpp"

namespace mq::engines::kafka {
namespace {

using SteadyClock = std::chrono::steady_clock;
// Acked offsets are committed at most this often (asynchronously); a crash loses at
// most this window of commits, whose messages are then delivered again.
constexpr auto commit_interval = std::chrono::milliseconds(20);
// How long a revocation waits for the handlers of records already handed out. Past it
// the partition is released anyway (logged): their acks are then ignored and the
// records delivered again to the next owner.
constexpr auto revoke_wait = std::chrono::seconds(10);
constexpr int metadata_timeout_ms = 5000;
// How long subscribe() waits for the member's first assignment. Kafka (and the mock)
// hold a new group's first assignment for group.initial.rebalance.delay.ms (3 s by
// default) and a rebalance until the members rejoin; a subscribe that returned before
// would let messages sent right after it (C18's delayed ones) wait for the join
// unseen. Past this bound subscribe returns anyway; the assignment comes later.
constexpr auto join_wait = std::chrono::seconds(8);

// Offsets acked above the commit position travel in the commit's metadata. Kafka brokers
// refuse metadata over offset.metadata.max.bytes (4096 by default): past this bound the
// higher ranges are left out, and the next owner delivers those records again.
constexpr std::string_view acked_prefix = "mq-acked:";
constexpr std::size_t max_acked_metadata = 3000;

std::string encode_acked(const core::OffsetFrontier& frontier) {
  const auto ranges = frontier.finished_above(max_acked_metadata / 4);
  if (ranges.empty()) return {};
  std::string text(acked_prefix);
  for (const auto& [first, last] : ranges) {
    const auto range = first == last ? fmt::format("{},", first) : fmt::format("{}-{},", first, last);
    if (text.size() + range.size() > max_acked_metadata) break;
    text += range;
  }
  text.pop_back();  // the last comma
  return text;
}

// The ranges of encode_acked(), or none for metadata of another client or a malformed
// one (then the records are delivered again: at-least-once holds either way).
std::vector<std::pair<std::int64_t, std::int64_t>> parse_acked(const void* metadata, std::size_t size) {
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  const std::string_view text(static_cast<const char*>(metadata), metadata ? size : 0);
  if (!text.starts_with(acked_prefix)) return ranges;
  const char* at = text.data() + acked_prefix.size();
  const char* end = text.data() + text.size();
  while (at < end) {
    std::int64_t first = 0, last = 0;
    auto parsed = std::from_chars(at, end, first);
    last = first;
    if (parsed.ec == std::errc() && parsed.ptr < end && *parsed.ptr == '-') {
      parsed = std::from_chars(parsed.ptr + 1, end, last);
    }
    const bool increasing = ranges.empty() || first > ranges.back().second;
    if (parsed.ec != std::errc() || first < 0 || last < first || !increasing ||
        (parsed.ptr < end && *parsed.ptr != ',')) {
      return {};
    }
    ranges.emplace_back(first, last);
    at = parsed.ptr + 1;
  }
  return ranges;
}

}  // namespace

KafkaSubscription::KafkaSubscription(std::shared_ptr<KafkaEngine> engine, const core::SubscriptionSpec& spec)
    : engine_(std::move(engine)),
      group_(spec.group),
      filter_(spec.topics),
      start_(spec.start),
      holds_records_(spec.holds_records) {
  const bool reserved = group_.starts_with(names::reserved_topic_prefix);
  // A member subscribed to a topic that does not exist yet gets an empty first assignment
  // and sees the topic only at the next metadata refresh and rebalance (seconds on the
  // mock), and the first send to it waits for its creation: C18's delayed messages came
  // more than 1 s late. So the plain names are created first, as a first send would
  // (Config auto_create_topics; mq's own topics always); a failure here is left to that
  // slower path.
  for (const auto& entry : spec.topics) {
    if (entry.find_first_of("*#") == std::string::npos) (void)engine_->ensure_topic(entry);
  }
  if (start_ == StartPosition::latest) {
    for (const auto& [name, partitions] : engine_->topics()) topics_at_join_.insert(name);
  }
  consumer_ = make_handle(RD_KAFKA_CONSUMER, consumer_properties(engine_->settings(), group_, start_),
                          [this](rd_kafka_conf_t* conf) {
                            rd_kafka_conf_set_opaque(conf, this);
                            rd_kafka_conf_set_rebalance_cb(conf, rebalance_callback);
                            rd_kafka_conf_set_offset_commit_cb(conf, commit_callback);
                          },
                          engine_->settings().redacted_url);
  rd_kafka_poll_set_consumer(consumer_.get());
  queue_ = rd_kafka_queue_get_consumer(consumer_.get());
  cooperative_ = std::strcmp(rd_kafka_rebalance_protocol(consumer_.get()), "COOPERATIVE") == 0;
  PartitionList topics(rd_kafka_topic_partition_list_new(static_cast<int>(spec.topics.size())));
  for (const auto& entry : spec.topics) {
    // A plain "mq..." name is subscribed as such; a pattern never reaches mq.* topics.
    rd_kafka_topic_partition_list_add(topics.get(), subscription_regex(entry).c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (const auto error = rd_kafka_subscribe(consumer_.get(), topics.get()); error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_queue_destroy(queue_);
    throw error_for(error, fmt::format("subscribe group '{}'", group_));
  }
  engine_->register_group(group_);
  engine_->member_joined(group_, 1);
  if (reserved) {
    // mq's own groups (the delay scheduler, dead-letter readers) join in the background,
    // polled by their own thread: the scheduler starts right before the consumer that
    // needs it, so both joins overlap. That consumer's subscribe waits for this join.
    reserved_join_pending_ = true;
    engine_->reserved_join_started();
    return;
  }
  // Returns once this member has its first assignment AND every reserved join of this
  // engine has had its own: a consumer whose subscribe returned while the delay
  // scheduler still waited for mq.delay would let delays sent right after it come late
  // (C18, under load). Both joins run at once, so this adds only their skew.
  const auto deadline = SteadyClock::now() + join_wait;
  while ((!assigned_once_ || engine_->reserved_joins_pending()) && SteadyClock::now() < deadline) {
    // The rebalance callback runs inside this poll; records fetched once assigned are
    // kept for poll(), in order.
    if (rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), 20)) early_.push_back(message);
  }
}

void KafkaSubscription::end_reserved_join() {
  if (!reserved_join_pending_) return;
  reserved_join_pending_ = false;
  engine_->reserved_join_done();
}

KafkaSubscription::~KafkaSubscription() { close(); }

void KafkaSubscription::rebalance_callback(rd_kafka_t*, rd_kafka_resp_err_t error,
                                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<KafkaSubscription*>(opaque);
  if (error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->assign(partitions);
  } else {
    self->revoke(partitions);  // also on errors: give up what we hold, cleanly
  }
}

void KafkaSubscription::commit_callback(rd_kafka_t*, rd_kafka_resp_err_t error,
                                        rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET || offsets == nullptr) return;
  // A failed commit (broker down, rebalance) is sent again by the next commit.
  auto* self = static_cast<KafkaSubscription*>(opaque);
  std::lock_guard lock(self->mutex_);
  for (int i = 0; i < offsets->cnt; ++i) {
    const auto& entry = offsets->elems[i];
    auto it = self->owned_.find(PartitionKey{entry.topic, entry.partition});
    if (it != self->owned_.end() && it->second.commit_sent <= entry.offset) it->second.commit_sent = -1;
  }
  self->commits_pending_ = true;
  core::log(LogLevel::info, "kafka: commit for group '{}' failed, will retry: {}", self->group_, rd_kafka_err2str(error));
}

std::map<KafkaSubscription::TopicPartition, KafkaSubscription::OffsetRanges> KafkaSubscription::set_positions(
    rd_kafka_topic_partition_list_t* partitions) {
  std::map<TopicPartition, OffsetRanges> acked;
  // Without an answer librdkafka looks up the committed offsets itself; only the acked
  // ranges (delivered again) and a "latest" start for partitions never committed are lost.
  if (rd_kafka_committed(consumer_.get(), partitions, metadata_timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) return acked;
  for (int i = 0; i < partitions->cnt; ++i) {
    const auto& entry = partitions->elems[i];
    auto ranges = parse_acked(entry.metadata, entry.metadata_size);
    if (!ranges.empty() && entry.offset >= 0) acked.emplace(TopicPartition{entry.topic, entry.partition}, std::move(ranges));
  }
  // A topic the group has committed on before is not new to the group: its partitions
  // without a commit (no message yet when the group read it, e.g. a replayed dead letter
  // landing in another partition) start at their beginning, not at "latest".
  std::set<std::string> consumed_before;
  for (int i = 0; i < partitions->cnt; ++i) {
    if (partitions->elems[i].offset >= 0) consumed_before.insert(partitions->elems[i].topic);
  }
  PartitionList commits(rd_kafka_topic_partition_list_new(partitions->cnt));
  for (int i = 0; i < partitions->cnt; ++i) {
    auto& entry = partitions->elems[i];
    if (auto it = released_.find({entry.topic, entry.partition}); it != released_.end()) {
      // Acked here before the last revocation but not committed (the mock refuses commits
      // during a rebalance): resume after them, and commit that now.
      if (it->second > entry.offset) {
        entry.offset = it->second;
        rd_kafka_topic_partition_list_add(commits.get(), entry.topic, entry.partition)->offset = entry.offset;
      }
      released_.erase(it);
      continue;
    }
    if (start_ != StartPosition::latest || entry.offset >= 0) continue;
    std::int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(consumer_.get(), entry.topic, entry.partition, &low, &high,
                                         metadata_timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      entry.offset = RD_KAFKA_OFFSET_INVALID;  // librdkafka resolves "latest" itself
      continue;
    }
    entry.offset = topics_at_join_.count(entry.topic) && !consumed_before.count(entry.topic) ? high : low;
    rd_kafka_topic_partition_list_add(commits.get(), entry.topic, entry.partition)->offset = entry.offset;
  }
  if (commits->cnt > 0) rd_kafka_commit(consumer_.get(), commits.get(), 0);
  return acked;
}

void KafkaSubscription::assign(rd_kafka_topic_partition_list_t* partitions) {
  assigned_once_ = true;
  auto acked = set_positions(partitions);
  {
    std::lock_guard lock(mutex_);
    ++generation_;
    for (int i = 0; i < partitions->cnt; ++i) {
      const TopicPartition partition{partitions->elems[i].topic, partitions->elems[i].partition};
      Owned owned;
      owned.generation = generation_;
      if (auto it = acked.find(partition); it != acked.end()) owned.skip = std::move(it->second);
      owned_[partition] = std::move(owned);
      forget_cached_partitions();
    }
  }
  if (cooperative_) {
    if (auto* error = rd_kafka_incremental_assign(consumer_.get(), partitions)) rd_kafka_error_destroy(error);
  } else {
    rd_kafka_assign(consumer_.get(), partitions);
  }
  end_reserved_join();  // positions set and fetching started
}

bool KafkaSubscription::drained(const rd_kafka_topic_partition_list_t* partitions) const {
  for (int i = 0; i < partitions->cnt; ++i) {
    auto it = owned_.find(PartitionKey{partitions->elems[i].topic, partitions->elems[i].partition});
    if (it != owned_.end() && it->second.frontier && it->second.frontier->outstanding() > 0) return false;
  }
  return true;
}

void KafkaSubscription::revoke(rd_kafka_topic_partition_list_t* partitions) {
  if (pending_revoke_) finish_revoke(true);  // a new revocation supersedes an unfinished one
  {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < partitions->cnt; ++i) {
      auto it = owned_.find(PartitionKey{partitions->elems[i].topic, partitions->elems[i].partition});
      if (it != owned_.end()) it->second.revoked = true;
    }
  }
  pending_revoke_ = rd_kafka_topic_partition_list_copy(partitions);
  revoke_deadline_ = SteadyClock::now() + revoke_wait;
  // close() does not wait: what was not acked is delivered again (the contract). Nor
  // does a holder of records: they may be due in an hour.
  finish_revoke(closing_ || holds_records_);
}

void KafkaSubscription::finish_revoke(bool force) {
  if (!pending_revoke_) return;
  {
    std::lock_guard lock(mutex_);
    if (!force && !drained(pending_revoke_)) {
      if (SteadyClock::now() < revoke_deadline_) return;
      core::log(LogLevel::warning, "kafka: group '{}' gives up partitions with unfinished records after {} s; "
                "they will be delivered again", group_, revoke_wait.count());
    }
  }
  PartitionList partitions(pending_revoke_);
  pending_revoke_ = nullptr;
  commit(true, partitions.get());
  {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < partitions->cnt; ++i) {
      auto it = owned_.find(PartitionKey{partitions->elems[i].topic, partitions->elems[i].partition});
      if (it == owned_.end()) continue;
      if (it->second.frontier) released_[it->first] = it->second.frontier->committed();
      owned_.erase(it);
      forget_cached_partitions();
    }
  }
  if (cooperative_) {
    if (auto* error = rd_kafka_incremental_unassign(consumer_.get(), partitions.get())) rd_kafka_error_destroy(error);
  } else {
    rd_kafka_assign(consumer_.get(), nullptr);
  }
}

void KafkaSubscription::commit(bool synchronous, const rd_kafka_topic_partition_list_t* only) {
  PartitionList offsets(rd_kafka_topic_partition_list_new(4));
  {
    std::lock_guard lock(mutex_);
    commits_pending_ = false;
    next_commit_ = core::CoarseSteadyClock::now() + commit_interval;
    for (auto& [partition, owned] : owned_) {
      // A synchronous commit (revocation, close) sends every position again: an
      // asynchronous one still in flight may yet fail, and nothing would retry it.
      if (!owned.frontier || (!synchronous && owned.frontier->committed() <= owned.commit_sent)) continue;
      if (only && !rd_kafka_topic_partition_list_find(only, partition.first.c_str(), partition.second)) continue;
      owned.commit_sent = owned.frontier->committed();
      auto* entry = rd_kafka_topic_partition_list_add(offsets.get(), partition.first.c_str(), partition.second);
      entry->offset = owned.commit_sent;
      if (const auto acked = encode_acked(*owned.frontier); !acked.empty()) {
        entry->metadata = std::malloc(acked.size());  // the list frees it
        std::memcpy(entry->metadata, acked.data(), acked.size());
        entry->metadata_size = acked.size();
      }
    }
  }
  if (offsets->cnt == 0) return;
  const auto error = rd_kafka_commit(consumer_.get(), offsets.get(), synchronous ? 0 : 1);
  if (synchronous && error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // The records are delivered again to the next owner: at-least-once still holds.
    core::log(LogLevel::warning, "kafka: commit for group '{}' failed: {}", group_, rd_kafka_err2str(error));
  }
}

std::optional<core::Record> KafkaSubscription::take(const rd_kafka_message_t* message) {
  const char* topic = rd_kafka_topic_name(message->rkt);
  // Consecutive messages mostly come from one partition: look it up once per run.
  if (!last_owned_ || last_rkt_ != message->rkt || last_partition_ != message->partition) {
    auto it = owned_.find(PartitionKey{topic, message->partition});
    if (it == owned_.end()) return std::nullopt;  // given up
    last_owned_ = &it->second;
    last_rkt_ = message->rkt;
    last_partition_ = message->partition;
  }
  auto& owned = *last_owned_;
  if (owned.revoked) return std::nullopt;  // being given up
  if (!owned.frontier) {
    owned.frontier.emplace(message->offset);
    owned.matches = filter_.matches(topic);
  }
  if (message->offset < owned.frontier->next()) return std::nullopt;  // already handed out
  owned.frontier->delivered(message->offset);
  while (owned.skip_next < owned.skip.size() && owned.skip[owned.skip_next].second < message->offset) ++owned.skip_next;
  if (owned.skip_next < owned.skip.size() && owned.skip[owned.skip_next].first <= message->offset) {
    // Acked by an earlier owner (commit metadata): finished, not handed out again.
    commits_pending_ = owned.frontier->finished(message->offset) || commits_pending_;
    return std::nullopt;
  }
  if (!owned.matches) {
    // Only possible for unusual patterns the regular expression over-approximates
    // (subscription_regex): skipped, and committed past.
    commits_pending_ = owned.frontier->finished(message->offset) || commits_pending_;
    return std::nullopt;
  }
  core::Record record;
  record.token = owned.generation;
  Message& out = record.message;
  out.topic = topic;
  out.partition = message->partition;
  out.offset = message->offset;
  if (message->key) out.key.emplace(static_cast<const char*>(message->key), message->key_len);
  if (message->payload) out.value.assign(static_cast<const char*>(message->payload), message->len);
  rd_kafka_timestamp_type_t type;
  if (const auto millis = rd_kafka_message_timestamp(message, &type); millis >= 0) {
    out.timestamp = TimePoint(std::chrono::milliseconds(millis));
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      std::string text = value ? std::string(static_cast<const char*>(value), size) : std::string();
      if (names::message_id_header == name) {
        out.id = std::move(text);
      } else {
        out.headers.add(name, std::move(text));
      }
    }
  }
  // Messages from other producers (kcat, Java clients) have no mq id: their position is one.
  if (out.id.empty()) out.id = fmt::format("kafka-{}-{}-{}", out.topic, out.partition, out.offset);
  return record;
}

std::vector<core::Record> KafkaSubscription::poll(std::size_t max, std::chrono::milliseconds timeout) {
  bool commit_due = false;
  {
    std::lock_guard lock(mutex_);
    if (closed_) throw Error(ErrorCode::closed, fmt::format("subscription of group '{}' is closed", group_));
    commit_due = commits_pending_ && core::CoarseSteadyClock::now() >= next_commit_;
  }
  if (commit_due) commit(false);
  finish_revoke(false);
  std::vector<core::Record> records;
  const auto deadline = SteadyClock::now() + timeout;
  while (records.size() < max) {
    // Wait only while nothing was taken; then drain what librdkafka already holds
    // (without reading the clock for each of those records).
    int wait = 0;
    if (records.empty()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
      wait = static_cast<int>(std::max<std::int64_t>(left.count(), 0));
    }
    if (pending_revoke_) wait = std::min(wait, 10);  // look at the acks again soon
    rd_kafka_message_t* message = nullptr;
    if (!early_.empty()) {
      message = early_.front();
      early_.pop_front();
    } else {
      message = rd_kafka_consumer_poll(consumer_.get(), wait);
    }
    if (pending_revoke_) finish_revoke(false);
    if (message == nullptr) {
      if (pending_revoke_ && records.empty() && SteadyClock::now() < deadline && !woken_.load()) continue;
      if (!records.empty() || wait == 0 || woken_.exchange(false)) break;
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Unknown topics (not created yet), broker outages: librdkafka retries by itself.
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        core::log(LogLevel::debug, "kafka: group '{}': {}", group_, rd_kafka_message_errstr(message));
      }
    } else {
      std::lock_guard lock(mutex_);
      if (auto record = take(message)) records.push_back(std::move(*record));
    }
    rd_kafka_message_destroy(message);
  }
  return records;
}

void KafkaSubscription::ack(const core::Record& record) {
  const core::Record* one[] = {&record};
  ack_all(one);
}

void KafkaSubscription::ack_all(std::span<const core::Record* const> records) {
  bool commit_now = false;
  {
    std::lock_guard lock(mutex_);
    for (const core::Record* record : records) finish_locked(*record);
    // The pacing needs no precise clock: a coarse one saves a full clock read per ack.
    commit_now = commits_pending_ && !closed_ && core::CoarseSteadyClock::now() >= next_commit_;
  }
  // rd_kafka_commit is thread-safe; asynchronous, so an ack never waits for the broker.
  if (commit_now) commit(false);
}

void KafkaSubscription::finish_locked(const core::Record& record) {
  // Consecutive acks mostly come from one partition: look it up once per run.
  const auto& message = record.message;
  if (!last_acked_ || last_acked_->first.second != message.partition || last_acked_->first.first != message.topic) {
    auto it = owned_.find(PartitionKey{message.topic, message.partition});
    // Released (and maybe assigned again since): it will be, or was, delivered again.
    if (it == owned_.end()) return;
    last_acked_ = &*it;
  }
  auto& owned = last_acked_->second;
  if (!owned.frontier || owned.generation != record.token) return;
  commits_pending_ = owned.frontier->finished(message.offset) || commits_pending_;
}

bool KafkaSubscription::owns(const core::Record& record) const {
  std::lock_guard lock(mutex_);
  auto it = owned_.find(PartitionKey{record.message.topic, record.message.partition});
  return it != owned_.end() && !it->second.revoked && it->second.generation == record.token;
}

void KafkaSubscription::wakeup() {
  woken_ = true;
  if (queue_) rd_kafka_queue_yield(queue_);
}

void KafkaSubscription::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_ || closing_) return;
    closing_ = true;
  }
  end_reserved_join();
  commit(true);
  finish_revoke(true);
  for (auto* message : early_) rd_kafka_message_destroy(message);
  early_.clear();
  // Leaves the group: the revoke callback runs here, commits again and does not wait.
  if (const auto error = rd_kafka_consumer_close(consumer_.get()); error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    core::log(LogLevel::warning, "kafka: closing a member of group '{}': {}", group_, rd_kafka_err2str(error));
  }
  rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
  consumer_.reset();
  engine_->member_joined(group_, -1);
  std::lock_guard lock(mutex_);
  owned_.clear();
  forget_cached_partitions();
  closed_ = true;
}

std::unique_ptr<core::Subscription> KafkaEngine::subscribe(const core::SubscriptionSpec& spec) {
  check_open();
  return std::make_unique<KafkaSubscription>(shared_from_this(), spec);
}

}  // namespace mq::engines::kafka
