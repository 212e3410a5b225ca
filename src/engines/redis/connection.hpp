// One hiredis connection, a small pool of them, and Lua scripts run by SHA.
//
// hiredis contexts are not thread-safe: a Connection is used by one thread at a time
// (the pool hands each out exclusively; a subscription's blocking reader is its own).
// A dropped connection is re-established on the next use, at most once per backoff
// step (50 ms doubling to 1 s), so a down server costs callers an immediate
// ErrorCode::connection rather than a connect attempt per call.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mq/error.hpp"
#include "mq/options.hpp"

struct redisContext;
struct redisReply;

namespace mq::engines::redis {

class ReplyArena;

// Where the server is and how to log in (url.cpp). The password never leaves here.
struct ServerAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // empty: AUTH with the password alone (the default user)
  std::string password;  // never log
  int db = 0;
  std::string redacted;  // the URL with the password as ***
  milliseconds connect_timeout{5'000};
  milliseconds command_timeout{10'000};
  std::string where() const { return host + ":" + std::to_string(port); }
};

// An owned reply. Error replies are values here; I/O failures throw (errors.cpp).
class Reply {
 public:
  Reply() = default;
  // `owned`: freed with freeReplyObject; false for a reply in a ReplyArena.
  explicit Reply(redisReply* reply, bool owned = true);
  bool is_error() const;
  bool is_nil() const;
  bool is_array() const;
  bool is_integer() const;
  std::string_view text() const;  // string, status or error text; empty otherwise
  long long integer() const;
  std::size_t size() const;       // array elements
  const redisReply* element(std::size_t index) const;
  const redisReply* get() const { return reply_.get(); }

 private:
  struct Free {
    bool borrowed;  // in a ReplyArena; false when value-initialized (no initializer: GCC
                    // cannot use one in a nested class before the outer one is complete)
    void operator()(redisReply* reply) const;
  };
  std::unique_ptr<redisReply, Free> reply_;
};

// Views of reply elements (arrays inside a Reply).
std::string_view text_of(const redisReply* reply);
bool is_nil(const redisReply* reply);
long long integer_of(const redisReply* reply);

using Args = std::vector<std::string>;

// Commands in the Redis protocol (RESP), written straight into one buffer that goes to
// the server as it is: no argv arrays, no per-argument allocation, no formatting by
// hiredis (its sdscatfmt was a third of the client's CPU per appended message).
// Not thread-safe; build, send, drop.
class Commands {
 public:
  // Starts a command of `argc` arguments; exactly that many arg()/reserve() must follow.
  void begin(std::size_t argc);
  void arg(std::string_view bytes);
  void arg(long long number);
  // An argument of exactly `size` bytes, which the caller writes at the returned address
  // before anything else is added.
  char* reserve(std::size_t size);
  void add(const Args& args);
  std::size_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  std::string_view bytes() const { return buffer_; }
  void reserve_bytes(std::size_t size) { buffer_.reserve(size); }

 private:
  void header(char kind, std::size_t value);
  std::string buffer_;
  std::size_t count_ = 0;
};

class Connection {
 public:
  explicit Connection(const ServerAddress& address);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (AUTH, SELECT) unless connected. Throws ErrorCode::connection naming the
  // address, or at once while a backoff step since the last failure is running.
  void ensure();
  bool connected() const { return context_ != nullptr; }
  // Drops the connection; the next use reconnects.
  void reset();

  // One command. Throws ErrorCode::connection on I/O failure (and drops the connection);
  // an error reply is returned as a Reply.
  Reply command(const Args& args);
  // Sends all commands, then reads the replies in order. On an I/O failure the replies
  // read so far are returned and `failure` is set: the outcome of the rest is unknown.
  std::vector<Reply> pipeline(const std::vector<Args>& commands, Status& failure);
  // The same for commands already in protocol form; `what` names them in errors.
  std::vector<Reply> pipeline(const Commands& commands, std::string_view what, Status& failure);
  // pipeline() in two halves, so that the server works while the caller does: send()
  // writes the commands (throws ErrorCode::connection), receive() reads their replies
  // later. Nothing else may use the connection in between.
  void send(const Commands& commands, std::string_view what);
  std::vector<Reply> receive(std::size_t count, std::string_view what, Status& failure);
  // Socket timeout for replies (a blocking XREADGROUP needs longer than commands).
  void set_read_timeout(milliseconds timeout);
  // The server's id of this connection (CLIENT ID), for CLIENT UNBLOCK; 0 if unknown.
  long long client_id() const { return client_id_; }
  // Replies are built in a ReplyArena from now on (reply_arena.hpp): cheaper for bulk
  // reads, but a Reply of this connection is valid only until its next command.
  void use_reply_arena();

 private:
  [[noreturn]] void fail(std::string_view what);
  // The reply just read, owned by the arena when there is one.
  Reply adopt(void* reply) const { return Reply(static_cast<redisReply*>(reply), !arena_); }
  const ServerAddress& address_;
  redisContext* context_ = nullptr;
  std::unique_ptr<ReplyArena> arena_;
  long long client_id_ = 0;
  milliseconds read_timeout_;
  milliseconds backoff_{0};
  std::chrono::steady_clock::time_point retry_at_{};
  std::string last_error_;
};

// Hands out connections exclusively; creates up to `size`, then waits for one.
class ConnectionPool {
 public:
  ConnectionPool(const ServerAddress& address, std::size_t size);

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Connection* operator->() { return connection_.get(); }
    Connection& operator*() { return *connection_; }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
  };
  // Thread-safe. The connection may be disconnected: its first use reconnects.
  Lease acquire();

 private:
  const ServerAddress& address_;
  const std::size_t size_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t created_ = 0;
};

// A Lua script run with EVALSHA, falling back to EVAL when the server does not know it
// (after a restart the script cache is empty). Thread-safe.
class Script {
 public:
  explicit Script(std::string text) : text_(std::move(text)) {}
  Reply run(Connection& connection, const Args& keys, const Args& args) const;
  // The EVAL command, for pipelines (EVAL caches the script on the server as well).
  Args command(const Args& keys, const Args& args) const;

 private:
  std::string sha() const;
  const std::string text_;
  mutable std::mutex mutex_;
  mutable std::string sha_;  // filled by the first run()
};

// errors.cpp: the one place where hiredis and server errors become mq errors.
Error connection_error(const ServerAddress& address, std::string_view what);
Status reply_status(const ServerAddress& address, std::string_view what, const Reply& reply);
// Throws the error reply as an mq::Error; returns the reply otherwise.
Reply checked(const ServerAddress& address, std::string_view what, Reply reply);

}  // namespace mq::engines::redis
