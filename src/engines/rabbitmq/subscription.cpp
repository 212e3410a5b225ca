// One member of a consumer group: a consumer on the group's queue.
//
// RabbitMQ hands each message of the queue to one consumer, so members of a group
// share the work without partitions. The connection is guarded by a mutex that no one
// holds while waiting: poll() takes deliveries without blocking under it and then waits
// in poll(2) on the socket and an eventfd outside it. ack() from a worker queues the
// tag and wakes poll() through the eventfd, which sends the acks of all workers in as
// few basic.ack frames as their order allows (AckRanges). Tokens carry the generation;
// an ack for a delivery of an earlier connection is dropped (the server gave that
// message back to the queue when the connection died, so it is delivered again: at
// least once).
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <mutex>
#include <span>
#include <unordered_map>
#include <thread>

#include "core/logging.hpp"
#include "core/topic_pattern.hpp"
#include "engines/rabbitmq/ack_ranges.hpp"
#include "engines/rabbitmq/codec.hpp"
#include "engines/rabbitmq/engine.hpp"
#include "mq/names.hpp"

namespace mq::engines::rabbitmq {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int generation_shift = 40;  // delivery tags stay far below 2^40 per connection
constexpr std::uint64_t tag_mask = (std::uint64_t{1} << generation_shift) - 1;
// Longest wait in poll(2): heartbeats are answered only inside rabbitmq-c calls.
constexpr milliseconds longest_wait{100};
constexpr milliseconds max_reconnect_backoff{2'000};
constexpr milliseconds report_interval{50};

class RabbitSubscription final : public core::Subscription {
 public:
  RabbitSubscription(std::shared_ptr<RabbitEngine> engine, const core::SubscriptionSpec& spec)
      : engine_(std::move(engine)), spec_(spec), filter_(spec.topics), queue_(group_queue(spec.group)) {
    connect(/*joining=*/true);
  }

  ~RabbitSubscription() override { close(); }

  std::vector<core::Record> poll(std::size_t max, std::chrono::milliseconds timeout) override {
    const auto deadline = SteadyClock::now() + timeout;
    std::vector<core::Record> records;
    while (records.empty()) {
      if (woken_.exchange(false)) break;
      int socket = -1;
      {
        std::unique_lock lock(connection_mutex_);
        if (closed_) break;
        if (!connection_ || connection_->broken()) {
          connection_.reset();
          lock.unlock();
          if (!reconnect(deadline)) break;
          continue;
        }
        try {
          flush_acks();
          report_acks(/*now=*/false);
          receive(records, max);
          if (!connection_->has_buffered()) socket = connection_->socket();
        } catch (const Error& error) {
          core::log(LogLevel::warning, "rabbitmq: consumer of group '{}' lost its connection: {}", spec_.group,
                    error.what());
          connection_.reset();
          next_attempt_ = SteadyClock::now();
          continue;
        }
      }
      if (!records.empty() || SteadyClock::now() >= deadline) break;
      if (socket >= 0) wait_readable(socket, std::min(longest_wait, remaining(deadline)));
    }
    return records;
  }

  void ack(const core::Record& record) override {
    const core::Record* one[] = {&record};
    ack_all(one);
  }

  void ack_all(std::span<const core::Record* const> records) override {
    const std::uint64_t generation = generation_.load();
    bool first = false;
    {
      std::lock_guard lock(acks_mutex_);
      first = acks_.empty();
      for (const core::Record* record : records) {
        // A record of an earlier connection: the server gave it back when that one broke.
        if ((record->token >> generation_shift) == generation) acks_.push_back(record->token);
      }
      first = first && !acks_.empty();
    }
    if (first) signal();  // later acks join this batch: one wake-up for many
  }

  void wakeup() override {
    woken_ = true;
    signal();
  }

  void close() override {
    std::lock_guard lock(connection_mutex_);
    if (closed_) return;
    closed_ = true;
    if (connection_ && !connection_->broken()) {
      try {
        // Acks, then their count, go before the close on the same channel: the server
        // applies them before it gives the unacked deliveries back.
        flush_acks();
        report_acks(/*now=*/true);
      } catch (const Error& error) {
        core::log(LogLevel::warning, "rabbitmq: consumer of group '{}': ack count not sent at close: {}",
                  spec_.group, error.what());
      }
    }
    connection_.reset();  // unacked deliveries return to the queue
    if (wake_fd_ >= 0) ::close(wake_fd_);
    wake_fd_ = -1;
  }

 private:
  static milliseconds remaining(SteadyClock::time_point deadline) {
    return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()));
  }

  // Declares the group's queue and bindings and starts consuming. On joining a group
  // that did not exist, with start=earliest, copies the history of every matching
  // topic into the new queue first (README.md, "Start position").
  void connect(bool joining) {
    auto connection = std::make_unique<Connection>(engine_->settings());
    const auto& exchange = engine_->settings().exchange;
    connection->declare_exchange(exchange);
    bool existed = true;
    try {
      connection->declare_queue(queue_, /*passive=*/true);
    } catch (const Error& error) {
      if (error.code() != ErrorCode::not_found) throw;
      existed = false;
    }
    // A new group starting at the earliest message gets the topics' history copied into
    // its queue. Messages published while it binds reach the queue through the binding
    // *and* are in the stream: a marker put in each topic's stream before binding splits
    // the history into "before" (only copied) and "around the binding" (maybe both).
    const bool replay = joining && !existed && spec_.start == StartPosition::earliest;
    std::map<std::string, std::string> before_binding;  // topic -> marker
    if (replay) {
      for (const auto& [topic, partitions] : engine_->read_registry(*connection).topics) {
        if (!filter_.matches(topic)) continue;
        try {
          before_binding[topic] = engine_->put_marker(*connection, topic_queue(topic));
        } catch (const Error& error) {
          if (error.code() != ErrorCode::not_found) throw;  // deleted meanwhile: nothing to copy
        }
      }
    }
    const auto dead_letters = names::dead_letter_topic(spec_.group);
    amqp_table_entry_t arguments[3];
    arguments[0].key = amqp_cstring_bytes("x-dead-letter-exchange");
    arguments[0].value.kind = AMQP_FIELD_KIND_UTF8;
    arguments[0].value.value.bytes = amqp_bytes_t{exchange.size(), const_cast<char*>(exchange.data())};
    arguments[1].key = amqp_cstring_bytes("x-dead-letter-routing-key");
    arguments[1].value.kind = AMQP_FIELD_KIND_UTF8;
    arguments[1].value.value.bytes = amqp_bytes_t{dead_letters.size(), const_cast<char*>(dead_letters.data())};
    // Priority queues only when asked for (?max_priority=0 turns them off): RabbitMQ
    // keeps a sub-queue per level, which costs the server about half its delivery rate.
    // A queue declared with other arguments than it has is refused (406, invalid_state).
    const int max_priority = engine_->settings().max_priority;
    arguments[2].key = amqp_cstring_bytes("x-max-priority");
    // A signed byte up to 127, as queues declared before the option were (the server
    // compares the type too); unsigned above.
    if (max_priority <= 127) {
      arguments[2].value.kind = AMQP_FIELD_KIND_I8;
      arguments[2].value.value.i8 = static_cast<std::int8_t>(max_priority);
    } else {
      arguments[2].value.kind = AMQP_FIELD_KIND_U8;
      arguments[2].value.value.u8 = static_cast<std::uint8_t>(max_priority);
    }
    connection->declare_queue(queue_, false, amqp_table_t{max_priority > 0 ? 3 : 2, arguments});
    for (const auto& topic : spec_.topics) connection->bind(queue_, exchange, topic);
    engine_->declare_stream(*connection, acked_queue(spec_.group));
    if (joining && !existed) {
      if (replay) replay_history(*connection, before_binding);
      std::string topics;
      for (const auto& topic : spec_.topics) topics += (topics.empty() ? "" : ",") + topic;
      engine_->record(*connection, fmt::format("group\t{}\t{}", spec_.group, topics));
    }
    connection->confirm_select();  // ack reports at close wait for their confirm
    // mq's own groups (mq.scheduler, mq.dlq-reader.*) hold what they fetch until a due
    // time or a decision, bounded by core: a prefetch limit would stall them.
    connection->qos(internal_ ? 0 : engine_->settings().prefetch);
    connection->consume(queue_);
    std::lock_guard lock(connection_mutex_);
    connection_ = std::move(connection);
    ranges_ = AckRanges();
    // After a reconnect every unacked delivery comes again: a first sighting recorded
    // on the old connection must not make its redelivery look like the second copy.
    if (!joining) maybe_twice_.clear();
    ++generation_;
    backoff_ = milliseconds(0);
  }

  void signal() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake_fd_, &one, sizeof one);  // full counter: already awake
  }

  // Requires connection_mutex_. Sends the queued acks of this connection in as few
  // frames as AckRanges allows.
  void flush_acks() {
    std::vector<std::uint64_t> tokens;
    {
      std::lock_guard lock(acks_mutex_);
      tokens.swap(acks_);
    }
    std::vector<std::uint64_t> tags;
    tags.reserve(tokens.size());
    for (const auto token : tokens) {
      if ((token >> generation_shift) == generation_.load()) tags.push_back(token & tag_mask);
    }
    for (const auto& [tag, multiple] : ranges_.take(tags)) connection_->ack(tag, multiple);
    unreported_acks_ += tags.size();
  }

  // Waits until the socket has data, wakeup() is called, or `timeout` passes.
  void wait_readable(int socket, milliseconds timeout) {
    pollfd fds[2] = {{socket, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(timeout.count())) > 0 && (fds[1].revents & POLLIN)) {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto read = ::read(wake_fd_, &count, sizeof count);
    }
  }

  // Copies every matching topic's stream into the new queue. What follows the topic's
  // marker in `before_binding` (everything, for a topic without one) may also have been
  // routed to the queue: those ids go into maybe_twice_, and receive() drops a second
  // copy. Only this member knows them; if it leaves before both copies arrived, another
  // member may get the second (at least once).
  void replay_history(Connection& connection, const std::map<std::string, std::string>& before_binding) {
    const auto registry = engine_->read_registry(connection);
    for (const auto& [topic, partitions] : registry.topics) {
      if (!filter_.matches(topic)) continue;
      const auto marker = before_binding.find(topic);
      bool around_binding = marker == before_binding.end();
      std::vector<Message> messages;
      engine_->read_stream(
          connection, topic_queue(topic),
          [&](const amqp_message_t& message) {
            messages.push_back(decode_message(message, topic));
            if (around_binding) maybe_twice_.emplace(messages.back().id, false);
          },
          [&](const std::string& seen) { around_binding = around_binding || seen == marker->second; });
      copy_into_queue(connection, messages);
    }
  }

  // Requires connection_mutex_. True for the second copy of a message copied around the
  // binding (replay_history); it is acked and not delivered.
  bool second_copy(const Message& message) {
    if (maybe_twice_.empty()) return false;
    const auto it = maybe_twice_.find(message.id);
    if (it == maybe_twice_.end()) return false;
    if (!it->second) {
      it->second = true;
      return false;
    }
    maybe_twice_.erase(it);
    return true;
  }

  void copy_into_queue(Connection& connection, const std::vector<Message>& messages) {
    constexpr std::size_t chunk = 500;
    for (std::size_t begin = 0; begin < messages.size(); begin += chunk) {
      const auto end = std::min(messages.size(), begin + chunk);
      std::vector<std::unique_ptr<EncodedMessage>> encoded;
      std::vector<Outgoing> out;
      for (auto i = begin; i < end; ++i) {
        encoded.push_back(std::make_unique<EncodedMessage>(messages[i]));
        out.push_back(Outgoing{"", queue_, encoded.back()->properties(), messages[i].value, true});
      }
      std::vector<PublishResult> results;
      connection.confirm_select();
      connection.publish_confirmed(out, results, SteadyClock::now() + engine_->settings().rpc_timeout);
      for (auto result : results) {
        if (result != PublishResult::confirmed) {
          throw Error(ErrorCode::connection, fmt::format("{}: copying history into '{}' was not confirmed",
                                                         engine_->settings().redacted, queue_));
        }
      }
    }
  }

  // Tries to connect again once the backoff has passed. False if not connected.
  bool reconnect(SteadyClock::time_point deadline) {
    const auto now = SteadyClock::now();
    if (now < next_attempt_) {
      std::this_thread::sleep_for(std::min(remaining(deadline), std::chrono::duration_cast<milliseconds>(
                                                                    next_attempt_ - now)));
      if (SteadyClock::now() < next_attempt_) return false;
    }
    try {
      connect(/*joining=*/false);
      core::log(LogLevel::info, "rabbitmq: consumer of group '{}' reconnected", spec_.group);
      return true;
    } catch (const Error& error) {
      backoff_ = std::min(max_reconnect_backoff, std::max(milliseconds(100), backoff_ * 2));
      next_attempt_ = SteadyClock::now() + backoff_;
      core::log(LogLevel::warning, "rabbitmq: consumer of group '{}' cannot reconnect: {}", spec_.group,
                error.what());
      return false;
    }
  }

  // Requires connection_mutex_. Appends the number of acks sent since the last report to the group's ack stream,
  // at most every report_interval (or `now`), for describe_group's committed count.
  void report_acks(bool now) {
    if (unreported_acks_ == 0) return;
    const auto time = SteadyClock::now();
    if (!now && time - last_report_ < report_interval) return;
    const auto body = std::to_string(unreported_acks_);
    const auto properties = control_properties(nullptr, {});
    const auto queue = acked_queue(spec_.group);
    if (now) {
      std::vector<PublishResult> results;
      connection_->publish_confirmed({Outgoing{"", queue, &properties, body, false}}, results,
                                     time + engine_->settings().rpc_timeout);
    } else {
      connection_->publish(Outgoing{"", queue, &properties, body, false});
    }
    unreported_acks_ = 0;
    last_report_ = time;
  }

  // Requires connection_mutex_. Takes what has arrived, without waiting.
  void receive(std::vector<core::Record>& records, std::size_t max) {
    Delivery delivery;
    while (records.size() < max && connection_->next_delivery(delivery, milliseconds(0))) {
      if (delivery.channel != 1) continue;  // left over from reading a stream
      auto message = decode_message(delivery.message, delivery.routing_key);
      const std::uint64_t token = (generation_.load() << generation_shift) | delivery.tag;
      // Patterns never match reserved topics (DESIGN.md); an AMQP "#" binding does.
      if ((message.topic.starts_with(names::reserved_topic_prefix) && !filter_.matches(message.topic)) ||
          second_copy(message)) {
        std::vector<std::uint64_t> tags{delivery.tag};
        for (const auto& [tag, multiple] : ranges_.take(tags)) connection_->ack(tag, multiple);
        continue;
      }
      // Only a message given back by a member can have a retry saved elsewhere (retry.hpp).
      if (delivery.redelivered && !internal_) engine_->retries().note_redelivered(spec_.group, message.id);
      records.push_back(core::Record{std::move(message), token});
    }
  }

  const std::shared_ptr<RabbitEngine> engine_;
  const core::SubscriptionSpec spec_;
  const core::TopicFilter filter_;
  const std::string queue_;
  // mq's own groups (mq.scheduler, mq.dlq-reader.*): no prefetch limit, no retry notes.
  const bool internal_ = spec_.group.starts_with(names::reserved_topic_prefix);
  std::mutex connection_mutex_;  // guards the five fields below; never held while waiting
  std::unique_ptr<Connection> connection_;
  std::atomic<std::uint64_t> generation_{0};  // written under connection_mutex_
  AckRanges ranges_;
  std::uint64_t unreported_acks_ = 0;  // sent, not yet counted in the ack stream
  SteadyClock::time_point last_report_{};
  bool closed_ = false;
  milliseconds backoff_{0};                // poll() thread only
  SteadyClock::time_point next_attempt_{};  // poll() thread only
  // Ids copied around the binding -> whether one copy was delivered (replay_history).
  std::unordered_map<std::string, bool> maybe_twice_;  // connection_mutex_ (connect(): before publishing)
  std::atomic<bool> woken_{false};
  std::mutex acks_mutex_;
  std::vector<std::uint64_t> acks_;  // tokens acked since the last flush; acks_mutex_
  int wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
};

}  // namespace

std::unique_ptr<core::Subscription> RabbitEngine::subscribe(const core::SubscriptionSpec& spec) {
  check_open();
  auto self = shared_from_this();
  return std::make_unique<RabbitSubscription>(std::move(self), spec);
}

}  // namespace mq::engines::rabbitmq
