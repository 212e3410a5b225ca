#include "engines/rabbitmq/engine.hpp"

#include <fmt/format.h>

#include <map>
#include <thread>

#include "core/engine_registry.hpp"
#include "core/logging.hpp"
#include "core/message_id.hpp"
#include "engines/rabbitmq/codec.hpp"
#include "mq/names.hpp"

namespace mq::engines {
namespace rabbitmq {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Waits between reconnection attempts of one send: short at first (a dropped idle
// connection comes back at once), capped so that a server restart is noticed soon.
constexpr milliseconds first_backoff{50};
constexpr milliseconds max_backoff{1'000};

amqp_table_entry_t string_entry(const char* name, const std::string& value) {
  amqp_table_entry_t entry{};
  entry.key = amqp_cstring_bytes(name);
  entry.value.kind = AMQP_FIELD_KIND_UTF8;
  entry.value.value.bytes = amqp_bytes_t{value.size(), const_cast<char*>(value.data())};
  return entry;
}

amqp_table_entry_t integer_entry(const char* name, std::int64_t value) {
  amqp_table_entry_t entry{};
  entry.key = amqp_cstring_bytes(name);
  entry.value.kind = AMQP_FIELD_KIND_I64;
  entry.value.value.i64 = value;
  return entry;
}

}  // namespace

std::string topic_queue(const std::string& topic) { return "mq.topic." + topic; }
std::string group_queue(const std::string& group) { return "mq.group." + group; }
std::string acked_queue(const std::string& group) { return "mq.acked." + group; }

Lease::~Lease() {
  if (connection_ && engine_) engine_->give_back(std::move(connection_));
}

RabbitEngine::RabbitEngine(Settings settings, const Config& config)
    : settings_(std::move(settings)),
      capabilities_{.engine = "rabbitmq", .durable = true, .multi_process = true, .native_delay = false,
                    .priority = settings_.max_priority > 0, .offsets = false, .server = true,
                    .durable_retry = true},
      send_timeout_(config.producer.send_timeout) {
  auto connection = std::make_unique<Connection>(settings_);
  connection->declare_exchange(settings_.exchange);
  declare_stream(*connection, registry_queue);
  connection->confirm_select();
  give_back(std::move(connection));
}

RabbitEngine::~RabbitEngine() { close(); }

void RabbitEngine::check_open() const {
  if (closed_) throw Error(ErrorCode::closed, fmt::format("rabbitmq engine for {} is closed", settings_.redacted));
}

Lease RabbitEngine::lease() {
  check_open();
  {
    std::lock_guard lock(pool_mutex_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection));
    }
  }
  auto connection = std::make_unique<Connection>(settings_);
  connection->confirm_select();
  return Lease(this, std::move(connection));
}

void RabbitEngine::give_back(std::unique_ptr<Connection> connection) {
  if (connection->broken() || closed_) return;  // destroyed here: a broken one is not reused
  std::lock_guard lock(pool_mutex_);
  idle_.push_back(std::move(connection));
}

void RabbitEngine::declare_stream(Connection& connection, const std::string& queue, const TopicOptions& retention) {
  const std::string type = "stream";
  const std::string max_age = fmt::format("{}s", (retention.retention.count() + 999) / 1000);
  std::vector<amqp_table_entry_t> entries{string_entry("x-queue-type", type)};
  if (retention.retention.count() > 0) entries.push_back(string_entry("x-max-age", max_age));
  if (retention.retention_bytes > 0) {
    entries.push_back(integer_entry("x-max-length-bytes", static_cast<std::int64_t>(retention.retention_bytes)));
  }
  connection.declare_queue(queue, false, amqp_table_t{static_cast<int>(entries.size()), entries.data()});
}

void RabbitEngine::forget_topic(const std::string& topic) {
  std::lock_guard lock(topics_mutex_);
  known_topics_.erase(topic);
}

void RabbitEngine::ensure_topic(Connection& connection, const std::string& topic, bool create,
                                const TopicOptions& options) {
  {
    std::lock_guard lock(topics_mutex_);
    if (known_topics_.count(topic)) return;
  }
  const auto queue = topic_queue(topic);
  try {
    connection.declare_queue(queue, /*passive=*/true);
    // Bound again (idempotent): the process that declared it may not have bound it
    // yet, and a message published before the binding would be unroutable.
    connection.bind(queue, settings_.exchange, topic);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::not_found) throw;
    if (!create) throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", topic));
    // Retention of the topic's history (what a new group with start=earliest sees):
    // the options', else a week.
    TopicOptions retention = options;
    if (retention.retention.count() <= 0) retention.retention = std::chrono::hours(24 * 7);
    declare_stream(connection, queue, retention);
    connection.bind(queue, settings_.exchange, topic);
    const int partitions = options.partitions > 0 ? options.partitions : settings_.default_partitions;
    record(connection, fmt::format("create\t{}\t{}", topic, partitions));
    std::lock_guard lock(topics_mutex_);
    unproven_topics_.insert(topic);
  }
  bool unproven = false;
  {
    std::lock_guard lock(topics_mutex_);
    unproven = unproven_topics_.count(topic) > 0;
  }
  if (unproven) {
    // RabbitMQ 3.10 crashes a channel that publishes to a stream whose writer it does
    // not know yet (osiris_writer:write(none, ...) in the node's log; the connection is
    // closed with 541, or 506 "stream not found"). Through the exchange such a publish
    // may already be in the group queues when the channel dies, and sending it again
    // stores it twice there (C19 and C32 saw delayed messages delivered twice). So the
    // first publish to a stream this process created is a marker sent to the stream
    // alone; until one is confirmed, nothing goes through the exchange to it (a failed
    // marker fails the connection, and the send retries with a new one).
    put_marker(connection, queue);
    std::lock_guard lock(topics_mutex_);
    unproven_topics_.erase(topic);
  }
  std::lock_guard lock(topics_mutex_);
  known_topics_.insert(topic);
}

void RabbitEngine::record(Connection& connection, const std::string& event) {
  append_control(connection, registry_queue, event);
}

void RabbitEngine::append_control(Connection& connection, const std::string& queue, const std::string& body) {
  const auto properties = control_properties(nullptr, {});
  std::vector<Outgoing> out{Outgoing{"", queue, &properties, body, true}};
  std::vector<PublishResult> results;
  connection.confirm_select();
  connection.publish_confirmed(out, results, SteadyClock::now() + settings_.rpc_timeout);
  if (results.front() == PublishResult::returned) {
    throw Error(ErrorCode::not_found, fmt::format("queue '{}' does not exist", queue));
  }
  if (results.front() != PublishResult::confirmed) {
    throw Error(ErrorCode::connection, fmt::format("{}: '{}' did not confirm an event", settings_.redacted, queue));
  }
}

std::string RabbitEngine::put_marker(Connection& connection, const std::string& queue) {
  const std::string marker = core::new_message_id();
  amqp_table_entry_t marker_entry;
  const auto properties = control_properties(&marker_entry, marker);
  std::vector<Outgoing> out{Outgoing{"", queue, &properties, "", true}};
  std::vector<PublishResult> results;
  connection.confirm_select();
  const auto deadline = SteadyClock::now() + settings_.rpc_timeout;
  connection.publish_confirmed(out, results, deadline);
  if (results.front() == PublishResult::returned) {
    throw Error(ErrorCode::not_found, fmt::format("stream '{}' does not exist", queue));
  }
  if (results.front() != PublishResult::confirmed) {
    throw Error(ErrorCode::connection, fmt::format("{}: no confirm for a marker in '{}'", settings_.redacted, queue));
  }
  // A topic's stream counts its markers as messages: the registry keeps their number so
  // that list_topics reports only messages (admin.cpp).
  const std::string topic_prefix = topic_queue("");
  if (queue.starts_with(topic_prefix)) record(connection, fmt::format("marker\t{}", queue.substr(topic_prefix.size())));
  return marker;
}

void RabbitEngine::read_stream(Connection& connection, const std::string& queue,
                               const std::function<void(const amqp_message_t&)>& visit,
                               const std::function<void(const std::string&)>& on_marker, std::int64_t* offset) {
  // The marker bounds "now": everything before it in the stream is read.
  const std::string marker = put_marker(connection, queue);
  const auto deadline = SteadyClock::now() + settings_.rpc_timeout;
  connection.open_side_channel(2);
  connection.qos(1000, 2);
  const std::string first = "first";
  amqp_table_entry_t start = offset && *offset >= 0 ? integer_entry("x-stream-offset", *offset)
                                                    : string_entry("x-stream-offset", first);
  connection.consume(queue, amqp_table_t{1, &start}, 2);
  Delivery delivery;
  while (true) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      throw Error(ErrorCode::timeout, fmt::format("{}: reading stream '{}' took too long", settings_.redacted, queue));
    }
    if (!connection.next_delivery(delivery, left) || delivery.channel != 2) continue;
    connection.ack(delivery.tag, false, 2);  // streams deliver on credit: acks return it
    if (offset) {
      if (const auto at = stream_offset_of(delivery.message)) *offset = *at + 1;
    }
    const auto seen = marker_of(delivery.message);
    if (seen == marker) break;
    if (seen.empty()) visit(delivery.message);
    else if (on_marker) on_marker(seen);
  }
  connection.cancel_and_close(2);
}

void RabbitEngine::append(std::vector<core::Envelope> batch, Acks, core::AppendCallback done) {
  std::vector<core::AppendResult> results(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& message = batch[i].message;
    results[i].receipt = Receipt{message.topic, 0, -1, message.id, message.id, {}};
  }
  if (closed_) {
    for (auto& result : results) result.status = Status(ErrorCode::closed, "rabbitmq engine is closed");
    done(std::move(results));
    return;
  }
  std::vector<std::unique_ptr<EncodedMessage>> encoded;
  encoded.reserve(batch.size());
  for (const auto& envelope : batch) encoded.push_back(std::make_unique<EncodedMessage>(envelope.message));

  // Indices not yet settled. A connection failure keeps them here and they are sent
  // again on a new connection (at least once: a message confirmed just before the
  // failure may be stored twice, never lost) until the send timeout.
  std::vector<std::size_t> pending(batch.size());
  for (std::size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  const auto deadline = SteadyClock::now() + send_timeout_;
  auto backoff = first_backoff;
  int returned_rounds = 0;
  Status last_error(ErrorCode::connection, fmt::format("{}: not sent", settings_.redacted));
  while (!pending.empty()) {
    if (SteadyClock::now() >= deadline || closed_) break;
    try {
      auto connection = lease();
      // Topics first: a missing topic fails its own messages, not the batch.
      std::map<std::string, Status> topic_status;
      std::vector<Outgoing> out;
      std::vector<std::size_t> sent;
      for (auto index : pending) {
        const auto& topic = batch[index].message.topic;
        auto [it, fresh] = topic_status.try_emplace(topic);
        if (fresh) {
          try {
            const bool create = settings_.auto_create_topics || topic.starts_with(names::reserved_topic_prefix);
            ensure_topic(*connection, topic, create);
          } catch (const Error& error) {
            if (error.code() == ErrorCode::connection) throw;
            it->second = error.status();
          }
        }
        if (!it->second.ok()) {
          results[index].status = it->second;
          continue;
        }
        out.push_back(Outgoing{settings_.exchange, topic, encoded[index]->properties(), batch[index].message.value,
                               true});
        sent.push_back(index);
      }
      std::vector<PublishResult> outcome;
      try {
        connection->publish_confirmed(out, outcome, deadline);
      } catch (const Error& error) {
        last_error = error.status();
        if (error.code() != ErrorCode::connection) {
          for (auto index : sent) results[index].status = error.status();
          pending.clear();
          break;
        }
        throw;
      }
      std::vector<std::size_t> again;
      for (std::size_t i = 0; i < sent.size(); ++i) {
        const auto index = sent[i];
        switch (outcome[i]) {
          case PublishResult::confirmed: break;
          case PublishResult::pending: again.push_back(index); break;
          case PublishResult::nacked:
            results[index].status = Status(ErrorCode::io, fmt::format("send to '{}': the server could not store it "
                                                                      "(basic.nack)", batch[index].message.topic));
            break;
          case PublishResult::returned:
            // Unroutable: the topic's stream was deleted meanwhile. Re-create it once
            // if allowed, else report it.
            forget_topic(batch[index].message.topic);
            if (returned_rounds == 0 && settings_.auto_create_topics) {
              again.push_back(index);
            } else {
              results[index].status = Status(ErrorCode::not_found,
                                             fmt::format("send to '{}': unroutable, the topic does not exist",
                                                         batch[index].message.topic));
            }
            break;
        }
      }
      if (again.size() < pending.size()) backoff = first_backoff;
      returned_rounds += 1;
      pending = std::move(again);
      if (connection->broken() && !pending.empty()) throw Error(last_error);
    } catch (const Error& error) {
      last_error = error.status();
      if (error.code() != ErrorCode::connection) break;  // closed, access refused, ...
      core::log(LogLevel::warning, "rabbitmq: send failed, retrying: {}", error.what());
      std::this_thread::sleep_for(std::min(backoff, std::chrono::duration_cast<milliseconds>(
                                                        deadline - SteadyClock::now() + milliseconds(1))));
      backoff = std::min(backoff * 2, max_backoff);
    }
  }
  for (auto index : pending) results[index].status = last_error;
  done(std::move(results));
}

void RabbitEngine::close() {
  if (closed_.exchange(true)) return;
  std::lock_guard lock(pool_mutex_);
  idle_.clear();
}

}  // namespace rabbitmq

std::shared_ptr<core::Engine> make_rabbitmq_engine(const core::EngineUrl& url, const Config& config) {
  return std::make_shared<rabbitmq::RabbitEngine>(rabbitmq::settings_from(url, config), config);
}

}  // namespace mq::engines
