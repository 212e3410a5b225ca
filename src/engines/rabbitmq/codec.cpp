#include "engines/rabbitmq/codec.hpp"

#include <chrono>
#include <cstdint>

namespace mq::engines::rabbitmq {
namespace {

// Engine-private AMQP header names (not mq headers: they never reach a handler).
constexpr std::string_view topic_field = "x-mq-topic";
constexpr std::string_view key_field = "x-mq-key";
constexpr std::string_view timestamp_field = "x-mq-ts";
constexpr std::string_view headers_field = "x-mq-headers";
constexpr std::string_view marker_field = "x-mq-marker";

amqp_bytes_t bytes_of(std::string_view text) { return amqp_bytes_t{text.size(), const_cast<char*>(text.data())}; }
std::string_view view_of(const amqp_bytes_t& bytes) {
  return std::string_view(static_cast<const char*>(bytes.bytes), bytes.len);
}

amqp_field_value_t string_value(std::string_view text) {
  amqp_field_value_t value{};
  value.kind = AMQP_FIELD_KIND_UTF8;  // 'S' long string: length-prefixed, any bytes
  value.value.bytes = bytes_of(text);
  return value;
}

amqp_table_entry_t entry(std::string_view name, amqp_field_value_t value) {
  return amqp_table_entry_t{bytes_of(name), value};
}

void append_sized(std::string& out, std::string_view text) {
  const auto size = static_cast<std::uint32_t>(text.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  out.append(text);
}

// False when `blob` is used up or malformed (a truncated blob ends the headers).
bool take_sized(std::string_view& blob, std::string_view& text) {
  if (blob.size() < 4) return false;
  std::uint32_t size = 0;
  for (int i = 0; i < 4; ++i) size = (size << 8) | static_cast<unsigned char>(blob[static_cast<std::size_t>(i)]);
  if (blob.size() - 4 < size) return false;
  text = blob.substr(4, size);
  blob.remove_prefix(4 + size);
  return true;
}

}  // namespace

EncodedMessage::EncodedMessage(const Message& message) {
  for (const auto& [name, value] : message.headers) {
    append_sized(header_blob_, name);
    append_sized(header_blob_, value);
  }
  entries_.reserve(4);
  entries_.push_back(entry(topic_field, string_value(message.topic)));
  if (message.key) entries_.push_back(entry(key_field, string_value(*message.key)));
  amqp_field_value_t timestamp{};
  timestamp.kind = AMQP_FIELD_KIND_I64;
  timestamp.value.i64 =
      std::chrono::duration_cast<std::chrono::milliseconds>(message.timestamp.time_since_epoch()).count();
  entries_.push_back(entry(timestamp_field, timestamp));
  if (!message.headers.empty()) {
    amqp_field_value_t blob{};
    blob.kind = AMQP_FIELD_KIND_BYTES;
    blob.value.bytes = bytes_of(header_blob_);
    entries_.push_back(entry(headers_field, blob));
  }
  properties_._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                       AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_PRIORITY_FLAG;
  properties_.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  properties_.message_id = bytes_of(message.id);
  properties_.timestamp = static_cast<uint64_t>(timestamp.value.i64 / 1000);
  properties_.priority = static_cast<uint8_t>(message.priority);
  properties_.headers = amqp_table_t{static_cast<int>(entries_.size()), entries_.data()};
}

amqp_basic_properties_t control_properties(amqp_table_entry_t* marker_entry, std::string_view marker) {
  amqp_basic_properties_t properties{};
  properties._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
  properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  properties.message_id = bytes_of(marker.empty() ? std::string_view("mq-registry") : marker);
  if (!marker.empty()) {
    *marker_entry = entry(marker_field, string_value(marker));
    properties._flags |= AMQP_BASIC_HEADERS_FLAG;
    properties.headers = amqp_table_t{1, marker_entry};
  }
  return properties;
}

std::string marker_of(const amqp_message_t& message) {
  if (!(message.properties._flags & AMQP_BASIC_HEADERS_FLAG)) return {};
  const auto& table = message.properties.headers;
  for (int i = 0; i < table.num_entries; ++i) {
    if (view_of(table.entries[i].key) == marker_field) return std::string(view_of(table.entries[i].value.value.bytes));
  }
  return {};
}

std::optional<std::int64_t> stream_offset_of(const amqp_message_t& message) {
  if (!(message.properties._flags & AMQP_BASIC_HEADERS_FLAG)) return std::nullopt;
  const auto& table = message.properties.headers;
  for (int i = 0; i < table.num_entries; ++i) {
    if (view_of(table.entries[i].key) != "x-stream-offset") continue;
    const auto& value = table.entries[i].value;
    switch (value.kind) {
      case AMQP_FIELD_KIND_I64: return value.value.i64;
      case AMQP_FIELD_KIND_U64: return static_cast<std::int64_t>(value.value.u64);
      case AMQP_FIELD_KIND_I32: return value.value.i32;
      case AMQP_FIELD_KIND_U32: return value.value.u32;
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

Message decode_message(const amqp_message_t& amqp, std::string_view routing_key) {
  Message message;
  message.value.assign(static_cast<const char*>(amqp.body.bytes), amqp.body.len);
  const auto& properties = amqp.properties;
  if (properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) message.id = std::string(view_of(properties.message_id));
  if (properties._flags & AMQP_BASIC_PRIORITY_FLAG) message.priority = properties.priority;
  if (properties._flags & AMQP_BASIC_TIMESTAMP_FLAG) {
    message.timestamp = TimePoint(std::chrono::seconds(properties.timestamp));
  }
  message.topic = std::string(routing_key);
  if (properties._flags & AMQP_BASIC_HEADERS_FLAG) {
    const auto& table = properties.headers;
    for (int i = 0; i < table.num_entries; ++i) {
      const auto name = view_of(table.entries[i].key);
      const auto& value = table.entries[i].value;
      if (name == topic_field && value.kind == AMQP_FIELD_KIND_UTF8) {
        message.topic = std::string(view_of(value.value.bytes));
      } else if (name == key_field && value.kind == AMQP_FIELD_KIND_UTF8) {
        message.key = std::string(view_of(value.value.bytes));
      } else if (name == timestamp_field && value.kind == AMQP_FIELD_KIND_I64) {
        message.timestamp = TimePoint(std::chrono::milliseconds(value.value.i64));
      } else if (name == headers_field &&
                 (value.kind == AMQP_FIELD_KIND_BYTES || value.kind == AMQP_FIELD_KIND_UTF8)) {
        auto blob = view_of(value.value.bytes);
        std::string_view header_name, header_value;
        while (take_sized(blob, header_name) && take_sized(blob, header_value)) {
          message.headers.add(std::string(header_name), std::string(header_value));
        }
      }
    }
  }
  message.partition = 0;  // one queue per group: no partitions (README.md)
  message.offset = -1;
  return message;
}

}  // namespace mq::engines::rabbitmq
