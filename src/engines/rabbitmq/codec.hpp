// How an mq Message travels as an AMQP message (README.md, "Message layout").
//
//   body                     the value, byte for byte
//   message-id               Message::id
//   timestamp                Message::timestamp in seconds (AMQP's resolution)
//   priority                 Message::priority (0-9; group queues have x-max-priority 9)
//   delivery-mode            2 (persistent)
//   headers x-mq-topic       the topic (the routing key is lost when a message is
//                            replayed into a group queue or dead-lettered by the broker)
//   headers x-mq-key         the key, when there is one
//   headers x-mq-ts          Message::timestamp in milliseconds since the epoch
//   headers x-mq-headers     the mq headers as one byte array: per header a 4-byte
//                            big-endian name length, the name, a 4-byte value length,
//                            the value (keeps order, repeated names and arbitrary
//                            bytes; a field array would not survive a stream queue,
//                            which stores messages as AMQP 1.0)
#pragma once

#include <amqp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mq/message.hpp"

namespace mq::engines::rabbitmq {

// The AMQP properties of one message. Points into `message`, which must outlive it.
// Not copyable or movable: the properties point into its own vectors.
class EncodedMessage {
 public:
  explicit EncodedMessage(const Message& message);
  EncodedMessage(const EncodedMessage&) = delete;
  EncodedMessage& operator=(const EncodedMessage&) = delete;
  const amqp_basic_properties_t* properties() const { return &properties_; }

 private:
  amqp_basic_properties_t properties_{};
  std::vector<amqp_table_entry_t> entries_;
  std::string header_blob_;
};

// Properties of a control message (registry event, replay marker).
amqp_basic_properties_t control_properties(amqp_table_entry_t* marker_entry, std::string_view marker);

// The message carried by an AMQP message; the topic falls back to `routing_key` for
// messages published by other AMQP clients.
Message decode_message(const amqp_message_t& message, std::string_view routing_key);

// The replay marker's value if this message is one, else empty.
std::string marker_of(const amqp_message_t& message);

// The offset RabbitMQ gives a message read from a stream (header x-stream-offset).
std::optional<std::int64_t> stream_offset_of(const amqp_message_t& message);

}  // namespace mq::engines::rabbitmq
