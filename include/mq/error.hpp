// mq::Error and mq::Status: the one error type of the public API.
//
// Set-up and synchronous calls throw mq::Error; asynchronous callbacks receive an
// mq::Status instead (an exception cannot cross into a callback thread usefully).
// Messages name the topic, group or address concerned and never contain a credential.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace mq {

// A closed set of error codes. Callers branch on the code, people read the message.
enum class ErrorCode {
  ok = 0,
  invalid_argument,   // a name, size, URL or option the caller passed is wrong
  not_supported,      // the engine lacks the capability, or the build lacks the engine
  not_found,          // a topic, group or file that must exist does not
  already_exists,     // create of something that exists
  timeout,            // a deadline passed before the operation completed
  connection,         // the engine's server cannot be reached or dropped the connection
  closed,             // the client, producer or consumer was closed
  limit_exceeded,     // a configured limit (message size, buffered bytes) would be passed
  corruption,         // stored data failed a check (CRC, length, format version)
  io,                 // the operating system refused a read, write or sync
  internal,           // a bug in mq: please report it
};

// Lower-case name of a code, as it appears in messages and metrics ("invalid_argument").
std::string_view to_string(ErrorCode code) noexcept;

// The outcome of an operation that did not throw: ok, or a code and a message.
// Cheap to copy when ok. Thread-compatible (a value type).
class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status success() { return {}; }

  bool ok() const noexcept { return code_ == ErrorCode::ok; }
  explicit operator bool() const noexcept { return ok(); }
  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "timeout: send to order.created: no acknowledgement within 5000 ms"
  std::string to_string() const;

 private:
  ErrorCode code_ = ErrorCode::ok;
  std::string message_;
};

// The exception every mq API throws. what() reads "<code>: <message>".
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);
  explicit Error(const Status& status) : Error(status.code(), status.message()) {}

  ErrorCode code() const noexcept { return code_; }
  // The message without the code prefix.
  const std::string& message() const noexcept { return message_; }
  Status status() const { return {code_, message_}; }

 private:
  ErrorCode code_;
  std::string message_;
};

}  // namespace mq
