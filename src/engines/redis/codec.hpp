// How mq messages and names are laid out in Redis (README.md, "Keys and encoding").
//
// A stream entry has one field, "m", holding the message frame below; the stream id is
// Redis's own. Persistent format: never change the meaning of a version; both are read.
//
// Version 2 (written since 2026-11-23; every byte it saves is a byte less for the
// server to read, parse and fsync per message):
//   u8 'M', u8 2, u8 flags (bit 0: has key, bit 1: the id is a canonical lowercase
//   UUID stored as 16 bytes, bit 2: priority byte follows, bit 3: has headers),
//   [u8 priority], varint zigzag(timestamp ns − base) where base = the UUID's first 48
//   bits (UUIDv7: Unix ms) × 10^6 when bit 1 is set, else 0 (arithmetic mod 2^64, so
//   any timestamp round-trips exactly; core's UUIDv7 ids make it ~3 bytes),
//   id (16 bytes, or varint length + bytes), [varint key length, key],
//   [varint header count, per header: varint name length, name, varint value length,
//   value]; then the value: every remaining byte. Varints: LEB128 (7 bits a byte).
// Version 1 (read only): little-endian integers:
//   u8 'M', u8 1, u8 flags (bit 0: has key), u8 priority,
//   i64 timestamp (ns since the Unix epoch), u32 id length, id,
//   [u32 key length, key], u32 header count, per header: u32 name length, name,
//   u32 value length, value; then the value: every remaining byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mq/message.hpp"

namespace mq::engines::redis {

inline constexpr std::string_view message_field = "m";

// Where a stream key ("mq:s:<topic>:<partition>[:p<priority>]") belongs.
struct StreamName {
  std::string topic;
  int partition = 0;
  int priority = 0;
};
std::optional<StreamName> parse_stream_key(std::string_view key);

// The current (version 2) frame of a message, measured once and then written where the
// caller wants it: the append path writes frames straight into its command buffer.
// `message` must outlive the Frame.
class Frame {
 public:
  explicit Frame(const Message& message);
  std::size_t size() const { return size_; }
  char* write(char* out) const;  // exactly size() bytes; returns the end

 private:
  const Message& message_;
  unsigned char flags_ = 0;
  unsigned char uuid_[16] = {};
  std::uint64_t timestamp_ = 0;  // zigzag(timestamp − base)
  std::size_t size_ = 0;
};
std::string encode_message(const Message& message);
// The version-1 frame, kept so tests can check that old entries are still read.
std::string encode_message_v1(const Message& message);
// Fills topic-independent fields of `message`; false if `frame` is neither a version-1
// nor a version-2 frame (or is truncated).
bool decode_message(std::string_view frame, Message& message);

// Key names: every key mq uses starts with "mq:" (one Redis database per deployment).
namespace keys {
inline const std::string topics = "mq:topics";          // hash: topic -> partition count
inline const std::string topics_version = "mq:topics:v";  // bumped by every create/delete
inline const std::string groups = "mq:groups";          // set of group names
inline const std::string delay_due = "mq:delay";        // zset: delay token -> due (ms)
inline const std::string delay_payload = "mq:delay:m";  // hash: delay token -> "stream\nframe"
inline std::string topic_meta(std::string_view topic) { return "mq:topic:" + std::string(topic); }
inline std::string stream(std::string_view topic, int partition) {
  return "mq:s:" + std::string(topic) + ":" + std::to_string(partition);
}
// Priority lanes: messages of priority 1..9 go to a stream of their own per partition.
inline std::string lane(std::string_view topic, int partition, int priority) {
  return priority == 0 ? stream(topic, partition) : stream(topic, partition) + ":p" + std::to_string(priority);
}
inline std::string lane_field(int priority) { return "lane" + std::to_string(priority); }
inline std::string group_streams(std::string_view group) { return "mq:g:" + std::string(group) + ":streams"; }
inline std::string group_members(std::string_view group) { return "mq:g:" + std::string(group) + ":members"; }
// Exists while the member is alive (refreshed by the engine's heartbeat).
inline std::string member_prefix(std::string_view group) { return "mq:m:" + std::string(group) + ":"; }
inline std::string dedup(std::string_view group, std::string_view id) {
  return "mq:dedup:" + std::string(group) + ":" + std::string(id);
}
// Durable retries (retry.cpp): id -> "<attempt> <due ms>", and its version.
inline std::string retries(std::string_view group) { return "mq:g:" + std::string(group) + ":retry"; }
inline std::string retries_version(std::string_view group) { return "mq:g:" + std::string(group) + ":retry:v"; }
inline std::string seed_dedup(std::string_view id) { return "msg:processed:" + std::string(id); }
}  // namespace keys

}  // namespace mq::engines::redis
