#include "engines/redis/codec.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace mq::engines::redis {
namespace {

constexpr char frame_magic = 'M';
constexpr char frame_v1 = 1;  // read only
constexpr char frame_v2 = 2;  // written

enum Flags : unsigned char {
  has_key = 1,
  uuid_id = 2,  // the id is a canonical lowercase UUID, stored as 16 bytes
  has_priority = 4,
  has_headers = 8,
};

void put_u32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_u32(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}

std::size_t varint_size(std::uint64_t value) {
  std::size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

char* put_varint(char* out, std::uint64_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<char>(value);
  return out;
}

char* put_sized(char* out, std::string_view bytes) {
  out = put_varint(out, bytes.size());
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  return out + bytes.size();
}

std::size_t sized_size(std::string_view bytes) { return varint_size(bytes.size()) + bytes.size(); }

// 0..15 for '0'-'9' and 'a'-'f'; -1 otherwise (upper case is not canonical: it would
// not come back the same).
int hex_value(char c) {
  static constexpr auto table = [] {
    std::array<signed char, 256> values{};
    values.fill(-1);
    for (int i = 0; i < 10; ++i) values['0' + i] = static_cast<signed char>(i);
    for (int i = 0; i < 6; ++i) values['a' + i] = static_cast<signed char>(10 + i);
    return values;
  }();
  return table[static_cast<unsigned char>(c)];
}

// The 16 bytes of a canonical lowercase UUID (8-4-4-4-12 hex digits), or false.
bool pack_uuid(std::string_view id, unsigned char* out) {
  if (id.size() != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-') return false;
  // Where each byte's two hex digits start.
  static constexpr unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
  for (int i = 0; i < 16; ++i) {
    const int high = hex_value(id[at[i]]), low = hex_value(id[at[i] + 1]);
    if ((high | low) < 0) return false;
    out[i] = static_cast<unsigned char>((high << 4) | low);
  }
  return true;
}

void unpack_uuid(const unsigned char* bytes, std::string& id) {
  static constexpr char hex[] = "0123456789abcdef";
  id.resize(36);
  std::size_t at = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id[at++] = '-';
    id[at++] = hex[bytes[i] >> 4];
    id[at++] = hex[bytes[i] & 0xf];
  }
}

// The timestamp base of a packed id: its first 48 bits (UUIDv7: Unix ms) in ns, mod 2^64.
std::uint64_t timestamp_base(const unsigned char* uuid) {
  std::uint64_t millis = 0;
  for (int i = 0; i < 6; ++i) millis = (millis << 8) | uuid[i];
  return millis * 1'000'000u;
}

std::uint64_t nanos_of(TimePoint time) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count());
}

std::uint64_t zigzag(std::uint64_t difference) {
  const auto value = static_cast<std::int64_t>(difference);
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}

std::uint64_t unzigzag(std::uint64_t value) { return (value >> 1) ^ (~(value & 1) + 1); }

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
  bool varint(std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && !data_.empty(); shift += 7) {
      const auto byte = static_cast<unsigned char>(data_.front());
      data_.remove_prefix(1);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool take(std::size_t size, std::string_view& out) {
    if (data_.size() < size) return false;
    out = data_.substr(0, size);
    data_.remove_prefix(size);
    return true;
  }
  // A length or count: u32 little-endian in version 1, a varint in version 2.
  bool length(std::uint64_t& value, bool varints) {
    if (varints) return varint(value);
    std::uint32_t fixed = 0;
    if (!little_endian(fixed)) return false;
    value = fixed;
    return true;
  }
  // Length, then that many bytes.
  bool bytes(std::string& out, bool varints) {
    std::uint64_t size = 0;
    std::string_view view;
    if (!length(size, varints) || !take(size, view)) return false;
    out.assign(view);
    return true;
  }
  std::string_view rest() const { return data_; }

 private:
  std::string_view data_;
};

TimePoint time_of(std::uint64_t nanos) {
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(static_cast<std::int64_t>(nanos))));
}

// Key, headers and value: the same in both versions but for how lengths are written
// (and version 1 always writes the header count).
bool decode_rest(Reader& reader, bool key, bool headers, bool varints, Message& message) {
  if (key) {
    std::string text;
    if (!reader.bytes(text, varints)) return false;
    message.key = std::move(text);
  } else {
    message.key.reset();
  }
  message.headers = Headers();
  std::uint64_t count = 0;
  if (headers && !reader.length(count, varints)) return false;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string name, value;
    if (!reader.bytes(name, varints) || !reader.bytes(value, varints)) return false;
    message.headers.add(std::move(name), std::move(value));
  }
  message.value.assign(reader.rest());
  return true;
}

bool decode_v1(std::string_view frame, Message& message) {
  message.priority = static_cast<unsigned char>(frame[3]);
  Reader reader(frame.substr(4));
  std::uint64_t nanos = 0;
  if (!reader.little_endian(nanos) || !reader.bytes(message.id, false)) return false;
  message.timestamp = time_of(nanos);
  return decode_rest(reader, (frame[2] & 1) != 0, true, false, message);
}

bool decode_v2(std::string_view frame, Message& message) {
  const auto flags = static_cast<unsigned char>(frame[2]);
  Reader reader(frame.substr(3));
  std::string_view view;
  message.priority = 0;
  if (flags & has_priority) {
    if (!reader.take(1, view)) return false;
    message.priority = static_cast<unsigned char>(view[0]);
  }
  std::uint64_t timestamp = 0;
  if (!reader.varint(timestamp)) return false;
  std::uint64_t base = 0;
  if (flags & uuid_id) {
    if (!reader.take(16, view)) return false;
    const auto* uuid = reinterpret_cast<const unsigned char*>(view.data());
    unpack_uuid(uuid, message.id);
    base = timestamp_base(uuid);
  } else if (!reader.bytes(message.id, true)) {
    return false;
  }
  message.timestamp = time_of(unzigzag(timestamp) + base);
  return decode_rest(reader, flags & has_key, flags & has_headers, true, message);
}

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

Frame::Frame(const Message& message) : message_(message) {
  std::uint64_t base = 0;
  if (pack_uuid(message.id, uuid_)) {
    flags_ |= uuid_id;
    base = timestamp_base(uuid_);
  }
  if (message.key) flags_ |= has_key;
  if (message.priority != 0) flags_ |= has_priority;
  if (!message.headers.empty()) flags_ |= has_headers;
  timestamp_ = zigzag(nanos_of(message.timestamp) - base);
  size_ = 3 + varint_size(timestamp_) + message.value.size();
  if (flags_ & has_priority) size_ += 1;
  size_ += (flags_ & uuid_id) ? 16 : sized_size(message.id);
  if (message.key) size_ += sized_size(*message.key);
  if (flags_ & has_headers) {
    size_ += varint_size(message.headers.size());
    for (const auto& [name, value] : message.headers) size_ += sized_size(name) + sized_size(value);
  }
}

char* Frame::write(char* out) const {
  const Message& message = message_;
  *out++ = frame_magic;
  *out++ = frame_v2;
  *out++ = static_cast<char>(flags_);
  if (flags_ & has_priority) *out++ = static_cast<char>(message.priority);
  out = put_varint(out, timestamp_);
  if (flags_ & uuid_id) {
    std::memcpy(out, uuid_, 16);
    out += 16;
  } else {
    out = put_sized(out, message.id);
  }
  if (message.key) out = put_sized(out, *message.key);
  if (flags_ & has_headers) {
    out = put_varint(out, message.headers.size());
    for (const auto& [name, value] : message.headers) {
      out = put_sized(out, name);
      out = put_sized(out, value);
    }
  }
  if (!message.value.empty()) std::memcpy(out, message.value.data(), message.value.size());
  return out + message.value.size();
}

std::string encode_message(const Message& message) {
  const Frame frame(message);
  std::string out(frame.size(), '\0');
  frame.write(out.data());
  return out;
}

std::string encode_message_v1(const Message& message) {
  std::string out;
  out.push_back(frame_magic);
  out.push_back(frame_v1);
  out.push_back(message.key ? 1 : 0);
  out.push_back(static_cast<char>(message.priority));
  const auto nanos = nanos_of(message.timestamp);
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
  if (frame.size() < 4 || frame[0] != frame_magic) return false;
  if (frame[1] == frame_v2) return decode_v2(frame, message);
  if (frame[1] == frame_v1) return decode_v1(frame, message);
  return false;
}

}  // namespace mq::engines::redis
