#include "engines/redis/codec.hpp"

#include <cstdint>
#include <cstring>

namespace mq::engines::redis {
namespace {

constexpr char frame_magic = 'M';
constexpr char frame_version = 1;  // persistent format: never change

void put_u32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_u32(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  // A little-endian unsigned integer of sizeof(T) bytes.
  template <typename T>
  bool little_endian(T& value) {
    if (data_.size() < sizeof(T)) return false;
    value = 0;
    for (std::size_t i = sizeof(T); i-- > 0;) value = static_cast<T>((value << 8) | static_cast<unsigned char>(data_[i]));
    data_.remove_prefix(sizeof(T));
    return true;
  }
  bool bytes(std::string& out) {
    std::uint32_t size = 0;
    if (!little_endian(size) || data_.size() < size) return false;
    out.assign(data_.substr(0, size));
    data_.remove_prefix(size);
    return true;
  }
  std::string_view rest() const { return data_; }

 private:
  std::string_view data_;
};

}  // namespace

std::optional<StreamName> parse_stream_key(std::string_view key) {
  if (!key.starts_with("mq:s:")) return std::nullopt;
  key.remove_prefix(5);
  StreamName name;
  auto colon = key.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  if (key.size() == colon + 3 && key[colon + 1] == 'p' && key[colon + 2] >= '1' && key[colon + 2] <= '9') {
    name.priority = key[colon + 2] - '0';
    key = key.substr(0, colon);
    colon = key.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
  }
  const auto digits = key.substr(colon + 1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  name.partition = std::stoi(std::string(digits));
  name.topic = std::string(key.substr(0, colon));
  return name;
}

std::string encode_message(const Message& message) {
  std::string out;
  std::size_t size = 20 + message.id.size() + message.value.size() + (message.key ? message.key->size() + 4 : 0);
  for (const auto& [name, value] : message.headers) size += 8 + name.size() + value.size();
  out.reserve(size);
  out.push_back(frame_magic);
  out.push_back(frame_version);
  out.push_back(message.key ? 1 : 0);
  out.push_back(static_cast<char>(message.priority));
  const auto nanos = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(message.timestamp.time_since_epoch()).count());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((nanos >> (8 * i)) & 0xff));
  put_bytes(out, message.id);
  if (message.key) put_bytes(out, *message.key);
  put_u32(out, static_cast<std::uint32_t>(message.headers.size()));
  for (const auto& [name, value] : message.headers) {
    put_bytes(out, name);
    put_bytes(out, value);
  }
  out.append(message.value);
  return out;
}

bool decode_message(std::string_view frame, Message& message) {
  if (frame.size() < 4 || frame[0] != frame_magic || frame[1] != frame_version) return false;
  const bool has_key = (frame[2] & 1) != 0;
  message.priority = static_cast<unsigned char>(frame[3]);
  Reader reader(frame.substr(4));
  std::uint64_t nanos = 0;
  if (!reader.little_endian(nanos) || !reader.bytes(message.id)) return false;
  message.timestamp = TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::nanoseconds(static_cast<std::int64_t>(nanos))));
  if (has_key) {
    std::string key;
    if (!reader.bytes(key)) return false;
    message.key = std::move(key);
  } else {
    message.key.reset();
  }
  std::uint32_t count = 0;
  if (!reader.little_endian(count)) return false;
  message.headers = Headers();
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name, value;
    if (!reader.bytes(name) || !reader.bytes(value)) return false;
    message.headers.add(std::move(name), std::move(value));
  }
  message.value.assign(reader.rest());
  return true;
}

}  // namespace mq::engines::redis
