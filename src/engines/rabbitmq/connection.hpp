// One AMQP 0-9-1 connection (rabbitmq-c) and what mq does over it.
//
// Thread-safety: none. A rabbitmq-c connection must be used by one thread at a time;
// the engine's pool hands each Connection to one caller at a time, and a Subscription
// owns its Connection and uses it only from its poll() thread (and close()).
//
// Channel 1 carries everything (declarations, publishing with confirms, consuming);
// channel 2 is opened only to read a stream (topic replay, registry). A channel error
// (404, 406, ...) closes the channel on the server: the Connection acknowledges the
// close, reopens the channel with its modes (confirm, prefetch) and throws the mapped
// mq::Error. A connection error marks the Connection broken(); it is then thrown away.
#pragma once

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/engine_registry.hpp"

namespace mq::engines::rabbitmq {

// What the URL says (url.cpp).
struct Settings {
  std::vector<std::pair<std::string, int>> hosts;  // tried in order
  std::string vhost = "/";
  std::string user = "guest";
  std::string password = "guest";  // never log
  std::string redacted;            // the URL with the password as ***
  std::string exchange = "mq";
  int heartbeat_seconds = 30;
  int prefetch = 100;
  // x-max-priority of group queues (?max_priority=, 0-255). 0: plain queues, no
  // priority capability (a priority queue costs the server about half its delivery rate).
  int max_priority = 9;
  milliseconds connect_timeout{5'000};
  milliseconds rpc_timeout{10'000};
  int default_partitions = 4;
  bool auto_create_topics = true;
};
Settings settings_from(const core::EngineUrl& url, const Config& config);

// Queue declare-ok counts.
struct QueueState {
  std::uint32_t messages = 0;  // ready (not delivered, or delivered and given back)
  std::uint32_t consumers = 0;
};

// A message to publish; the bytes must outlive publish_confirmed().
struct Outgoing {
  std::string_view exchange;
  std::string_view routing_key;
  const amqp_basic_properties_t* properties = nullptr;
  std::string_view body;
  bool mandatory = true;
};

enum class PublishResult { pending, confirmed, returned, nacked };

// A delivered message (owning); `tag` is the delivery tag on its channel.
struct Delivery {
  std::uint64_t tag = 0;
  int channel = 1;
  bool redelivered = false;
  std::string routing_key;
  amqp_message_t message{};  // freed by the destructor
  Delivery() = default;
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;
  Delivery(Delivery&& other) noexcept;
  Delivery& operator=(Delivery&& other) noexcept;
  ~Delivery();
};

class Connection {
 public:
  // Connects to the first host that answers within the connect timeout, logs in and
  // opens channel 1. Throws Error(connection) naming the redacted address.
  explicit Connection(const Settings& settings);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool broken() const { return broken_; }

  void declare_exchange(const std::string& name);
  // Throws not_found for a passive declare of a missing queue.
  QueueState declare_queue(const std::string& name, bool passive, const amqp_table_t& arguments = amqp_empty_table,
                           int channel = 1);
  void delete_queue(const std::string& name);
  void bind(const std::string& queue, const std::string& exchange, const std::string& key);
  // Turns on publisher confirms on channel 1 (kept across channel reopening).
  void confirm_select();
  void qos(int prefetch, int channel = 1);
  void consume(const std::string& queue, const amqp_table_t& arguments = amqp_empty_table, int channel = 1);
  void cancel_and_close(int channel);  // ends a consume on a side channel
  void open_side_channel(int channel);

  // Publishes `messages` on channel 1 (in confirm mode) and waits until each is
  // confirmed, returned (mandatory and unroutable) or nacked, or until `deadline`.
  // results[i] stays pending for what is not settled when the connection breaks or
  // the deadline passes.
  void publish_confirmed(const std::vector<Outgoing>& messages, std::vector<PublishResult>& results,
                         std::chrono::steady_clock::time_point deadline);

  // Publishes on channel 1 without waiting for its confirm (next_delivery skips it).
  void publish(const Outgoing& message);

  // Waits up to `timeout` for one delivery on any channel. False on timeout. Throws on
  // a broken connection (marking it broken) or a cancelled consumer.
  bool next_delivery(Delivery& delivery, std::chrono::milliseconds timeout);
  void ack(std::uint64_t tag, bool multiple = false, int channel = 1);

  const std::string& address() const { return address_; }
  // For waiting outside the library: the socket, and whether rabbitmq-c already holds
  // received data (then the socket may stay quiet although a delivery is waiting).
  int socket() const { return amqp_get_sockfd(state_); }
  bool has_buffered() const { return amqp_data_in_buffer(state_) || amqp_frames_enqueued(state_); }

 private:
  // Checks the reply of the last RPC; recovers the channel on a channel error.
  void check(const amqp_rpc_reply_t& reply, int channel, std::string_view what);
  void check_status(int status, std::string_view what);
  void reopen_channel(int channel);
  void answer_close(const amqp_frame_t& frame);

  amqp_connection_state_t state_ = nullptr;
  std::string address_;   // redacted URL, for messages
  bool broken_ = false;
  bool confirm_ = false;  // channel 1 is in confirm mode
  int prefetch_ = 0;      // channel 1 qos
  std::uint64_t next_publish_tag_ = 1;
};

}  // namespace mq::engines::rabbitmq
