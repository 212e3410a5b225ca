// amqp://user:password@host:port/vhost — RabbitMQ through rabbitmq-c (README.md).
//
// Topology: one durable topic exchange (default "mq") with the topic as routing key;
// per topic a durable stream queue "mq.topic.<topic>" bound by the topic's name (the
// topic's existence, its retained history for start=earliest, its message count); per
// consumer group a durable classic queue "mq.group.<group>" bound by the group's topic
// names and patterns; the stream "mq.registry" records topic and group events so that
// Admin can list them (AMQP 0-9-1 cannot list queues).
//
// Thread-safety: every Engine method is thread-safe. rabbitmq-c connections are not,
// so publishing and admin calls lease a Connection from a pool for the duration of one
// call; each Subscription owns its Connection.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/engine.hpp"
#include "engines/rabbitmq/connection.hpp"
#include "engines/rabbitmq/retry.hpp"

namespace mq::engines::rabbitmq {

// Queue names (README.md, "Topology").
std::string topic_queue(const std::string& topic);
std::string group_queue(const std::string& group);
// A stream of "<count>" messages: how many deliveries the group's members acked
// (describe_group sums it; README.md, "Lag").
std::string acked_queue(const std::string& group);
inline constexpr const char* registry_queue = "mq.registry";

// What the registry stream says (admin.cpp).
struct Registry {
  std::map<std::string, int> topics;                    // live topics and partition counts
  std::map<std::string, std::vector<std::string>> groups;  // group and its subscriptions
  std::map<std::string, std::int64_t> markers;          // topic -> markers put in its stream
};

class RabbitEngine;

// A pooled connection, returned to the pool when destroyed unless it broke.
class Lease {
 public:
  Lease(RabbitEngine* engine, std::unique_ptr<Connection> connection)
      : engine_(engine), connection_(std::move(connection)) {}
  Lease(Lease&&) = default;
  ~Lease();
  Connection& operator*() const { return *connection_; }
  Connection* operator->() const { return connection_.get(); }

 private:
  RabbitEngine* engine_;
  std::unique_ptr<Connection> connection_;
};

class RabbitEngine final : public core::Engine, public std::enable_shared_from_this<RabbitEngine> {
 public:
  // Connects once (to fail fast on a wrong URL or an unreachable server, C26) and
  // declares the exchange and the registry.
  RabbitEngine(Settings settings, const Config& config);
  ~RabbitEngine() override;

  const core::Capabilities& capabilities() const override { return capabilities_; }
  void append(std::vector<core::Envelope> batch, Acks acks, core::AppendCallback done) override;
  std::unique_ptr<core::Subscription> subscribe(const core::SubscriptionSpec& spec) override;
  void create_topic(const std::string& name, const TopicOptions& options) override;
  void delete_topic(const std::string& name) override;
  std::vector<TopicInfo> list_topics() override;
  std::vector<std::string> list_groups() override;
  GroupInfo describe_group(const std::string& group) override;
  std::shared_ptr<core::RetryStore> retry_store() override { return retries_; }
  void close() override;

  RabbitRetryStore& retries() { return *retries_; }

  const Settings& settings() const { return settings_; }
  // A connection from the pool, or a new one. Throws Error(connection).
  Lease lease();
  void give_back(std::unique_ptr<Connection> connection);

  // Makes sure the topic's stream exists and is bound (once per process per topic).
  // Throws not_found if it does not and `create` is false.
  void ensure_topic(Connection& connection, const std::string& topic, bool create, const TopicOptions& options = {});
  void forget_topic(const std::string& topic);
  // Declares a durable stream queue; `retention` limits its age and size when given.
  void declare_stream(Connection& connection, const std::string& queue, const TopicOptions& retention = {});
  // Appends an event ("create", "delete", "group") to the registry stream.
  void record(Connection& connection, const std::string& event);
  // Appends a control message with `body` to a queue or stream and waits for its
  // confirm. Throws not_found when the queue does not exist, connection otherwise.
  void append_control(Connection& connection, const std::string& queue, const std::string& body);
  // Appends a marker (a control message with a fresh id) to a stream and waits for its
  // confirm; returns the id. Throws not_found when the stream does not exist.
  std::string put_marker(Connection& connection, const std::string& queue);
  // Reads a stream from its first message up to now (a marker it appends first),
  // calling `visit` for each message and `on_marker` for each earlier marker (by id).
  // With `offset`: reads from that stream offset instead (-1: the first) and leaves in
  // it the offset after the last message read. Uses channel 2 of `connection`.
  void read_stream(Connection& connection, const std::string& queue,
                   const std::function<void(const amqp_message_t&)>& visit,
                   const std::function<void(const std::string&)>& on_marker = {}, std::int64_t* offset = nullptr);
  // The registry as of now. Each process keeps what it read and reads only what was
  // appended since (by stream offset): the registry grows with every event.
  Registry read_registry(Connection& connection);
  // How many deliveries the group's members acked (its ack stream), read likewise.
  std::int64_t read_acked(Connection& connection, const std::string& group);

 private:
  void check_open() const;

  const Settings settings_;
  const core::Capabilities capabilities_;
  const milliseconds send_timeout_;
  std::atomic<bool> closed_{false};
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by pool_mutex_
  std::mutex topics_mutex_;
  std::set<std::string> known_topics_;  // streams this process has seen; topics_mutex_
  std::set<std::string> unproven_topics_;  // created here, no publish confirmed yet; topics_mutex_
  std::mutex registry_mutex_;            // one catch-up at a time; guards the three below
  Registry registry_;                    // the registry stream up to registry_offset_
  std::int64_t registry_offset_ = -1;    // next offset to read; -1: the first
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> acked_;  // group -> (next offset, acks)
  const std::shared_ptr<RabbitRetryStore> retries_ = std::make_shared<RabbitRetryStore>(*this);
};

}  // namespace mq::engines::rabbitmq
