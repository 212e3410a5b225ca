// A member of a Kafka consumer group (librdkafka's high-level consumer).
//
// Kafka assigns the partitions; this class decides when offsets are committed and when
// a partition may be given up:
// - An offset is committed only up to the lowest record not yet acked, per partition
//   (core::OffsetFrontier), never by librdkafka's auto-commit.
// - When the group takes partitions away (the rebalance callback, run inside
//   rd_kafka_consumer_poll on the poll() thread), no further record of them is handed
//   out, and the release (rd_kafka_incremental_unassign, or assign(NULL) for the eager
//   protocol) is deferred until every record delivered from them has been acked (bounded
//   by revoke_wait), then committed. poll() checks for that; it must not block in the
//   callback, because the acks may come from poll()'s own thread between two polls (core's
//   delay scheduler holds records until due and acks them itself). So a record acked
//   here is never handled by the next owner, and none is handled by two members at once.
//   A member that holds records until later (SubscriptionSpec::holds_records) releases
//   at once instead; owns() then tells it to drop what it held of the partition.
// - Every commit carries, in its metadata, the offsets acked above the commit position
//   (`mq-acked:4-6,9`, bounded): the next owner of the partition skips them, so records
//   acked behind a slow or held one are not handled again after a rebalance or a
//   release past revoke_wait.
// - librdkafka's default assignors (eager); cooperative-sticky, when configured through
//   kafka.partition.assignment.strategy, is handled too (incremental (un)assign) but
//   fails against the 2.0.2 mock cluster, so it is untested.
//
// Thread-safety: poll() from one thread at a time (the rebalance callback runs there);
// ack() and wakeup() from any thread. mutex_ guards owned_ and the commit bookkeeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/offset_frontier.hpp"
#include "core/topic_pattern.hpp"
#include "engines/kafka/engine.hpp"

namespace mq::engines::kafka {

class KafkaSubscription final : public core::Subscription {
 public:
  KafkaSubscription(std::shared_ptr<KafkaEngine> engine, const core::SubscriptionSpec& spec);
  ~KafkaSubscription() override;

  std::vector<core::Record> poll(std::size_t max, std::chrono::milliseconds timeout) override;
  void ack(const core::Record& record) override;
  void ack_all(std::span<const core::Record* const> records) override;
  void wakeup() override;
  bool owns(const core::Record& record) const override;
  void close() override;

 private:
  using TopicPartition = std::pair<std::string, int>;
  // Orders TopicPartition and looks it up by (string_view, int): no string is built per
  // message to find its partition.
  struct PartitionLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const int order = std::string_view(a.first).compare(std::string_view(b.first));
      return order < 0 || (order == 0 && a.second < b.second);
    }
  };
  using PartitionKey = std::pair<std::string_view, int>;
  using OffsetRanges = std::vector<std::pair<std::int64_t, std::int64_t>>;
  struct Owned {
    std::uint64_t generation = 0;                  // of this assignment; Record::token
    OffsetRanges skip;                             // acked by an earlier owner (commit metadata)
    std::size_t skip_next = 0;                     // first range not yet behind the fetch
    std::optional<core::OffsetFrontier> frontier;  // from the first record delivered
    std::int64_t commit_sent = -1;                 // last offset handed to rd_kafka_commit
    bool revoked = false;                          // being given up: hand out nothing more
    bool matches = true;                           // the topic matches the filter (set with frontier)
  };

  static void rebalance_callback(rd_kafka_t* handle, rd_kafka_resp_err_t error,
                                 rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void commit_callback(rd_kafka_t* handle, rd_kafka_resp_err_t error,
                              rd_kafka_topic_partition_list_t* offsets, void* opaque);
  void assign(rd_kafka_topic_partition_list_t* partitions);
  void revoke(rd_kafka_topic_partition_list_t* partitions);
  // Commits and releases the pending revocation once drained, or past its deadline.
  void finish_revoke(bool force);
  bool drained(const rd_kafka_topic_partition_list_t* partitions) const;  // requires mutex_
  // Where fetching starts in newly assigned partitions, in place (on the poll thread):
  // - latest start: a partition with no committed offset gets the end committed at
  //   once, so that a later owner starts there too and not at a newer "latest". A topic
  //   that did not exist when this member subscribed starts at its beginning instead: it
  //   holds only messages newer than the subscription (as in the memory and embedded
  //   engines).
  // - a partition this member released before, with acks above what the group has
  //   committed (a commit refused during the rebalance): resumes after them and commits.
  // Returns the offsets above each position that an earlier owner acked.
  std::map<TopicPartition, OffsetRanges> set_positions(rd_kafka_topic_partition_list_t* partitions);
  // Ends this member's count in the engine's pending reserved joins, once.
  void end_reserved_join();
  // Commits every advanced frontier (of `only`, when given). Takes mutex_.
  void commit(bool synchronous, const rd_kafka_topic_partition_list_t* only = nullptr);
  // Requires mutex_. Marks the record finished in its partition's frontier.
  void finish_locked(const core::Record& record);
  void forget_cached_partitions() {  // requires mutex_
    last_owned_ = nullptr;
    last_acked_ = nullptr;
  }
  // Turns one fetched message into a record, or nullopt when it is not to be handed out.
  std::optional<core::Record> take(const rd_kafka_message_t* message);  // requires mutex_

  const std::shared_ptr<KafkaEngine> engine_;
  const std::string group_;
  const core::TopicFilter filter_;
  const StartPosition start_;
  const bool holds_records_;
  std::uint64_t generation_ = 0;  // assignments so far; guarded by mutex_
  std::set<std::string> topics_at_join_;  // for set_positions
  // Commit position of each partition when this member last released it (poll thread).
  std::map<TopicPartition, std::int64_t> released_;
  Handle consumer_;
  rd_kafka_queue_t* queue_ = nullptr;  // the consumer queue, for wakeup()
  bool cooperative_ = false;
  bool assigned_once_ = false;  // poll thread (and the constructor) only
  // A reserved group's member counted in KafkaEngine::reserved_joins_ until its first
  // assignment (or close, whichever comes first). Poll thread, constructor and close().
  bool reserved_join_pending_ = false;
  // Fetched while the constructor waited for the first assignment; poll() hands them
  // out first. Poll thread only.
  std::deque<rd_kafka_message_t*> early_;

  mutable std::mutex mutex_;
  std::map<TopicPartition, Owned, PartitionLess> owned_;
  // take()'s and ack()'s lookup caches: the entry of the last message's partition
  // (nullptr when an entry was added or removed since; forget_cached_partitions()).
  Owned* last_owned_ = nullptr;
  std::pair<const TopicPartition, Owned>* last_acked_ = nullptr;
  const rd_kafka_topic_t* last_rkt_ = nullptr;
  std::int32_t last_partition_ = -1;
  rd_kafka_topic_partition_list_t* pending_revoke_ = nullptr;  // poll thread only
  std::chrono::steady_clock::time_point revoke_deadline_{};
  bool commits_pending_ = false;
  std::chrono::steady_clock::time_point next_commit_{};  // on core::CoarseSteadyClock's clock
  std::atomic<bool> woken_{false};
  bool closing_ = false;
  bool closed_ = false;
};

}  // namespace mq::engines::kafka
