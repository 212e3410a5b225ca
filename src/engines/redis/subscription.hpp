// A member of a consumer group on Redis: XREADGROUP over every partition stream of the
// topics it subscribes to (README.md, "Consumer groups").
//
// Redis's consumer groups split the messages among members, so there is no partition
// assignment: each member reads new entries (">") of all streams. Ownership of a
// delivered entry is Redis's pending list (PEL). A member is alive while its liveness
// key exists (the engine's background thread refreshes it); a member whose key is gone
// (killed: expired after redis.member_ttl; closed: deleted) has its pending entries
// taken over (XCLAIM, reclaim_script) by any other member, so nothing it did not ack
// is lost. Entries idle past redis.visibility_timeout are taken over from live members
// too (XAUTOCLAIM): a handler running longer than that may see its message twice.
//
// Code: membership, poll() and acks in subscription.cpp; the reads (new entries,
// read-ahead, priority lanes, own pending entries) in subscription_reads.cpp.
//
// Thread-safety: poll() from one thread at a time (it owns the blocking connection);
// ack() and wakeup() from any thread. Lock order: ack_mutex_ before held_mutex_.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/engine.hpp"
#include "core/topic_pattern.hpp"
#include "engines/redis/engine.hpp"

namespace mq::engines::redis {

class RedisSubscription final : public core::Subscription {
 public:
  RedisSubscription(RedisEngine& engine, const core::SubscriptionSpec& spec);
  ~RedisSubscription() override;

  std::vector<core::Record> poll(std::size_t max, std::chrono::milliseconds timeout) override;
  void ack(const core::Record& record) override;
  void wakeup() override;
  void close() override;

 private:
  struct StreamInfo {
    std::string topic;
    int partition = 0;
  };
  // The buffer in delivery order: higher priority first, then as read.
  // Stream keys, interned: entries refer to their stream by a pointer into this set
  // (nodes never move; only the polling thread inserts, and nothing is erased).
  const std::string* intern(const std::string& stream);
  // A delivered entry not yet handed to the consumer runtime.
  struct Buffered {
    Message message;
    const std::string* stream;
    std::string id;
  };
  using EntryId = std::pair<const std::string*, std::string>;  // stream, entry id
  using AckBatch = std::map<const std::string*, std::vector<std::string>>;  // stream -> ids

  // Joins the group on the streams of matching topics not yet joined; drops deleted ones.
  void refresh(Connection& connection, bool force);
  // Takes over dead members' entries (and, after the visibility timeout, idle ones).
  void reclaim(Connection& connection);
  void read_new(std::size_t max, std::chrono::milliseconds block);
  // The replies of a read sent after `acks` (one XACK per stream): acks without a reply
  // are queued again, an I/O failure throws (and rereads pending entries next), the
  // read's entries are buffered; NOGROUP: joins again.
  void finish_read(const std::vector<Reply>& replies, AckBatch acks, const Status& failure);
  // Buffers every stream of an XREADGROUP/XCLAIM-style reply; returns the entries added.
  std::size_t buffer_streams(const Reply& reply, const std::set<EntryId>* skip = nullptr);
  // Read-ahead: when the buffer runs empty after a full read (a backlog), the next read
  // (without BLOCK, with the queued acks) is sent at once, and Redis serves it while the
  // runtime handles what was just taken; the next poll collects its reply first. Without
  // it Redis idled from each reply until the runtime asked again.
  void read_ahead();
  void collect_read_ahead();
  // After a connection failure: what Redis delivered to this member but it never got.
  void read_own_pending();
  // What this member holds (buffered, in flight, or acked with the XACK still queued).
  std::set<EntryId> held_entries();
  // Before handing out buffered entries: anything newer in a higher lane goes first.
  void read_lanes(std::size_t max);
  // Buffers the entries of one XREADGROUP/XCLAIM array for `stream`. `skip`: entries this
  // member holds already (a claim may return them), not buffered twice.
  void buffer_entries(const std::string& stream, const redisReply* entries, const std::set<EntryId>* skip = nullptr);
  std::vector<core::Record> take(std::size_t max);
  // Sends the queued XACKs on a pooled connection; what fails stays queued for the next
  // try. read_new() sends them with its read instead.
  void flush_acks();
  AckBatch take_acks();
  void requeue_acks(AckBatch batch);
  // One XACK per stream; returns how many commands it added.
  std::size_t add_acks(Commands& commands, const AckBatch& batch) const;
  void wait_woken(std::chrono::steady_clock::time_point until);

  RedisEngine& engine_;
  const std::string group_;
  const std::string consumer_;    // this member's consumer name in every stream
  const std::string member_key_;  // liveness key
  const core::TopicFilter filter_;
  const StartPosition start_;
  std::int64_t joined_ms_ = 0;    // server time at join: topics created later start at 0

  // Owned by the polling thread.
  Connection reader_;
  std::map<std::string, StreamInfo> streams_;  // joined streams by key
  std::string topics_version_ = "-";           // the registry version last read
  Args read_command_;                          // XREADGROUP ... STREAMS k1..kn > .. >
  Args ahead_command_;                         // read_command_ without BLOCK
  Args lanes_command_;                         // the same without BLOCK, priority lanes only
  std::size_t read_count_ = 0;                 // the COUNT of the last read (read_command_[5])
  bool read_ahead_sent_ = false;               // sent by read_ahead(), replies not yet read
  AckBatch ahead_acks_;                        // the XACKs sent with it
  bool last_read_full_ = false;                // the last read returned its full COUNT
  std::deque<Buffered> buffer_;
  std::chrono::steady_clock::time_point next_refresh_{}, next_reclaim_{};
  bool failing_ = false;  // the last poll failed to reach the server (log once)
  bool acks_sent_ = false;  // this poll sent the queued acks with a read
  bool reread_pending_ = false;  // read_own_pending() before the next new read

  std::set<std::string> stream_names_;  // see intern()

  std::mutex held_mutex_;  // guards in_flight_ (ack() runs on worker threads)
  std::unordered_map<std::uint64_t, EntryId> in_flight_;
  std::uint64_t next_token_ = 1;

  std::mutex ack_mutex_;
  std::condition_variable ack_idle_;
  AckBatch pending_acks_;
  std::size_t queued_acks_ = 0;
  std::chrono::steady_clock::time_point last_flush_{};
  bool flushing_ = false;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  std::atomic<bool> woken_{false};
  std::atomic<long long> blocked_client_{0};  // the reader's CLIENT ID while it blocks
  std::atomic<bool> closed_{false};
};

}  // namespace mq::engines::redis
