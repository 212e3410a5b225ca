#include "engines/rabbitmq/connection.hpp"

#include <amqp_tcp_socket.h>
#include <fmt/format.h>

#include <map>
#include <utility>

#include "engines/rabbitmq/errors.hpp"

namespace mq::engines::rabbitmq {
namespace {

timeval to_timeval(std::chrono::milliseconds duration) {
  if (duration.count() < 0) duration = std::chrono::milliseconds(0);
  return timeval{static_cast<time_t>(duration.count() / 1000), static_cast<suseconds_t>(duration.count() % 1000 * 1000)};
}

amqp_bytes_t bytes_of(std::string_view text) { return amqp_bytes_t{text.size(), const_cast<char*>(text.data())}; }

std::string string_of(const amqp_bytes_t& bytes) {
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

}  // namespace

Delivery::Delivery(Delivery&& other) noexcept { *this = std::move(other); }

Delivery& Delivery::operator=(Delivery&& other) noexcept {
  if (this == &other) return *this;
  if (message.pool.pagesize) amqp_destroy_message(&message);
  tag = other.tag;
  channel = other.channel;
  redelivered = other.redelivered;
  routing_key = std::move(other.routing_key);
  message = other.message;
  other.message = amqp_message_t{};
  return *this;
}

Delivery::~Delivery() {
  if (message.pool.pagesize) amqp_destroy_message(&message);
}

Connection::Connection(const Settings& settings) : address_(settings.redacted) {
  const auto timeout = to_timeval(settings.connect_timeout);
  std::string failures;
  for (const auto& [host, port] : settings.hosts) {
    state_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    const int status = socket ? amqp_socket_open_noblock(socket, host.c_str(), port > 0 ? port : 5672, &timeout)
                              : AMQP_STATUS_NO_MEMORY;
    if (status == AMQP_STATUS_OK) break;
    failures += fmt::format("{}{}:{}: {}", failures.empty() ? "" : "; ", host, port > 0 ? port : 5672,
                            amqp_error_string2(status));
    amqp_destroy_connection(state_);
    state_ = nullptr;
  }
  if (!state_) throw Error(ErrorCode::connection, fmt::format("cannot connect to {}: {}", address_, failures));
  amqp_set_handshake_timeout(state_, &timeout);
  const auto rpc_timeout = to_timeval(settings.rpc_timeout);
  amqp_set_rpc_timeout(state_, &rpc_timeout);
  const auto login = amqp_login(state_, settings.vhost.c_str(), 0, 131072, settings.heartbeat_seconds,
                                AMQP_SASL_METHOD_PLAIN, settings.user.c_str(), settings.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    const Error error = reply_error(login, fmt::format("log in as '{}' to vhost '{}'", settings.user, settings.vhost),
                                    address_);
    amqp_destroy_connection(state_);
    state_ = nullptr;
    throw error;
  }
  amqp_channel_open(state_, 1);
  check(amqp_get_rpc_reply(state_), 1, "open channel");
}

Connection::~Connection() {
  if (!state_) return;
  if (!broken_) {
    // A polite close, but a server that stopped answering must not hold a destructor
    // for the whole RPC timeout.
    const auto close_timeout = to_timeval(std::chrono::milliseconds(1'000));
    amqp_set_rpc_timeout(state_, &close_timeout);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_);
}

void Connection::answer_close(const amqp_frame_t& frame) {
  if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    amqp_channel_close_ok_t ok{};
    amqp_send_method(state_, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
  } else if (frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    amqp_connection_close_ok_t ok{};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    broken_ = true;
  }
}

void Connection::reopen_channel(int channel) {
  amqp_channel_open(state_, static_cast<amqp_channel_t>(channel));
  check(amqp_get_rpc_reply(state_), channel, "reopen channel");
  if (channel != 1) return;
  next_publish_tag_ = 1;
  if (confirm_) {
    amqp_confirm_select(state_, 1);
    check(amqp_get_rpc_reply(state_), 1, "select confirms");
  }
  if (prefetch_ > 0) qos(prefetch_);
}

void Connection::check(const amqp_rpc_reply_t& reply, int channel, std::string_view what) {
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
  Error error = reply_error(reply, what, address_);
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    amqp_channel_close_ok_t ok{};
    amqp_send_method(state_, static_cast<amqp_channel_t>(channel), AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    if (channel == 1) reopen_channel(channel);  // side channels are reopened by their user
  } else if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
    amqp_connection_close_ok_t ok{};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    broken_ = true;
  } else {
    broken_ = true;
  }
  throw error;
}

void Connection::check_status(int status, std::string_view what) {
  if (status == AMQP_STATUS_OK) return;
  broken_ = true;
  throw library_error(status, what, address_);
}

void Connection::declare_exchange(const std::string& name) {
  amqp_exchange_declare(state_, 1, bytes_of(name), amqp_cstring_bytes("topic"), 0, /*durable=*/1, 0, 0,
                        amqp_empty_table);
  check(amqp_get_rpc_reply(state_), 1, fmt::format("declare exchange '{}'", name));
}

QueueState Connection::declare_queue(const std::string& name, bool passive, const amqp_table_t& arguments,
                                     int channel) {
  auto* ok = amqp_queue_declare(state_, static_cast<amqp_channel_t>(channel), bytes_of(name), passive, /*durable=*/1,
                                0, 0, arguments);
  check(amqp_get_rpc_reply(state_), channel, fmt::format("declare queue '{}'", name));
  return ok ? QueueState{ok->message_count, ok->consumer_count} : QueueState{};
}

void Connection::delete_queue(const std::string& name) {
  amqp_queue_delete(state_, 1, bytes_of(name), 0, 0);
  check(amqp_get_rpc_reply(state_), 1, fmt::format("delete queue '{}'", name));
}

void Connection::bind(const std::string& queue, const std::string& exchange, const std::string& key) {
  amqp_queue_bind(state_, 1, bytes_of(queue), bytes_of(exchange), bytes_of(key), amqp_empty_table);
  check(amqp_get_rpc_reply(state_), 1, fmt::format("bind queue '{}' to '{}'", queue, key));
}

void Connection::confirm_select() {
  if (confirm_) return;
  amqp_confirm_select(state_, 1);
  check(amqp_get_rpc_reply(state_), 1, "select publisher confirms");
  confirm_ = true;
  next_publish_tag_ = 1;
}

void Connection::qos(int prefetch, int channel) {
  amqp_basic_qos(state_, static_cast<amqp_channel_t>(channel), 0, static_cast<uint16_t>(prefetch), 0);
  check(amqp_get_rpc_reply(state_), channel, "set prefetch");
  if (channel == 1) prefetch_ = prefetch;
}

void Connection::consume(const std::string& queue, const amqp_table_t& arguments, int channel) {
  amqp_basic_consume(state_, static_cast<amqp_channel_t>(channel), bytes_of(queue), amqp_empty_bytes, 0,
                     /*no_ack=*/0, 0, arguments);
  check(amqp_get_rpc_reply(state_), channel, fmt::format("consume from '{}'", queue));
}

void Connection::open_side_channel(int channel) {
  amqp_channel_open(state_, static_cast<amqp_channel_t>(channel));
  check(amqp_get_rpc_reply(state_), channel, "open channel");
}

void Connection::cancel_and_close(int channel) {
  // Closing the channel ends its consumer; deliveries already on the wire for it are
  // dropped by next_delivery's callers (they check the channel).
  amqp_channel_close(state_, static_cast<amqp_channel_t>(channel), AMQP_REPLY_SUCCESS);
  check(amqp_get_rpc_reply(state_), 1, "close channel");
}

void Connection::ack(std::uint64_t tag, bool multiple, int channel) {
  check_status(amqp_basic_ack(state_, static_cast<amqp_channel_t>(channel), tag, multiple), "ack");
}

void Connection::publish_confirmed(const std::vector<Outgoing>& messages, std::vector<PublishResult>& results,
                                   std::chrono::steady_clock::time_point deadline) {
  results.assign(messages.size(), PublishResult::pending);
  if (messages.empty()) return;
  const std::uint64_t first = next_publish_tag_;
  for (const auto& out : messages) {
    const int status = amqp_basic_publish(state_, 1, bytes_of(out.exchange), bytes_of(out.routing_key),
                                          out.mandatory, 0, out.properties, bytes_of(out.body));
    check_status(status, "publish");
    ++next_publish_tag_;
  }
  std::vector<bool> returned(messages.size(), false);
  std::size_t settled = 0;
  std::size_t lowest_pending = 0;  // every index below is settled: multiple acks start here
  const auto settle = [&](std::uint64_t tag, PublishResult result) {
    if (tag < first || tag - first >= messages.size()) return;
    const auto index = static_cast<std::size_t>(tag - first);
    if (results[index] != PublishResult::pending) return;
    results[index] = returned[index] ? PublishResult::returned : result;
    ++settled;
  };
  while (settled < messages.size()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    auto wait = to_timeval(std::min(left, std::chrono::milliseconds(1000)));
    amqp_frame_t frame;
    const int status = amqp_simple_wait_frame_noblock(state_, &frame, &wait);
    if (status == AMQP_STATUS_TIMEOUT) continue;
    check_status(status, "wait for publisher confirms");
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const auto* decoded = frame.payload.method.decoded;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD:
      case AMQP_BASIC_NACK_METHOD: {
        const bool ack = frame.payload.method.id == AMQP_BASIC_ACK_METHOD;
        const std::uint64_t tag = ack ? static_cast<const amqp_basic_ack_t*>(decoded)->delivery_tag
                                      : static_cast<const amqp_basic_nack_t*>(decoded)->delivery_tag;
        const bool multiple = ack ? static_cast<const amqp_basic_ack_t*>(decoded)->multiple
                                  : static_cast<const amqp_basic_nack_t*>(decoded)->multiple;
        const auto result = ack ? PublishResult::confirmed : PublishResult::nacked;
        for (std::uint64_t t = multiple ? first + lowest_pending : tag; t <= tag; ++t) settle(t, result);
        while (lowest_pending < results.size() && results[lowest_pending] != PublishResult::pending) ++lowest_pending;
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        amqp_message_t message;
        const auto read = amqp_read_message(state_, frame.channel, &message, 0);
        check(read, 1, "read a returned message");
        // A return names its message only by id; returns are rare (a topic deleted
        // meanwhile), so the batch is searched instead of indexed for every publish.
        const auto id = string_of(message.properties.message_id);
        for (std::size_t i = 0; i < messages.size(); ++i) {
          const auto* properties = messages[i].properties;
          if (returned[i] || !messages[i].mandatory || !properties ||
              !(properties->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) || string_of(properties->message_id) != id) {
            continue;
          }
          returned[i] = true;
          break;
        }
        amqp_destroy_message(&message);
        break;
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD: {
        Error error = close_error(frame.payload.method.id, decoded, "publish", address_);
        answer_close(frame);
        if (!broken_ && frame.channel == 1) reopen_channel(1);
        throw error;
      }
      default: break;  // a delivery or reply for another channel: not ours to handle
    }
  }
}

void Connection::publish(const Outgoing& out) {
  check_status(amqp_basic_publish(state_, 1, bytes_of(out.exchange), bytes_of(out.routing_key), out.mandatory, 0,
                                  out.properties, bytes_of(out.body)),
               "publish");
  ++next_publish_tag_;
}

bool Connection::next_delivery(Delivery& delivery, std::chrono::milliseconds timeout) {
  amqp_maybe_release_buffers(state_);
  auto wait = to_timeval(timeout);
  amqp_envelope_t envelope;
  const auto reply = amqp_consume_message(state_, &envelope, &wait, 0);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    delivery = Delivery();
    delivery.tag = envelope.delivery_tag;
    delivery.channel = envelope.channel;
    delivery.redelivered = envelope.redelivered;
    delivery.routing_key = string_of(envelope.routing_key);
    delivery.message = envelope.message;
    envelope.message = amqp_message_t{};
    amqp_bytes_free(envelope.routing_key);
    amqp_bytes_free(envelope.exchange);
    amqp_bytes_free(envelope.consumer_tag);
    return true;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) return false;
  if (reply.reply_type != AMQP_RESPONSE_LIBRARY_EXCEPTION || reply.library_error != AMQP_STATUS_UNEXPECTED_STATE) {
    broken_ = true;
    throw reply_error(reply, "consume", address_);
  }
  // A frame that is not a delivery: a confirm, a return, or the server closing.
  amqp_frame_t frame;
  check_status(amqp_simple_wait_frame(state_, &frame), "consume");
  if (frame.frame_type != AMQP_FRAME_METHOD) return false;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_RETURN_METHOD: {
      amqp_message_t message;
      check(amqp_read_message(state_, frame.channel, &message, 0), 1, "read a returned message");
      amqp_destroy_message(&message);
      return false;
    }
    case AMQP_BASIC_CANCEL_METHOD:
      throw Error(ErrorCode::not_found, fmt::format("consume ({}): the server cancelled the consumer "
                                                    "(its queue was deleted)", address_));
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: {
      Error error = close_error(frame.payload.method.id, frame.payload.method.decoded, "consume", address_);
      answer_close(frame);
      broken_ = true;  // the consumer's channel is gone: start over on a new connection
      throw error;
    }
    default: return false;
  }
}

}  // namespace mq::engines::rabbitmq
