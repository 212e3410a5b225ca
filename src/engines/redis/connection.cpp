#include "engines/redis/connection.hpp"

#include "engines/redis/reply_arena.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>

namespace mq::engines::redis {
namespace {

timeval to_timeval(milliseconds duration) {
  const auto ms = std::max<long long>(duration.count(), 1);
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

constexpr milliseconds first_backoff{50};
constexpr milliseconds last_backoff{1'000};

// argv/argvlen views of `args` for hiredis (binary-safe): commands sent on their own.
struct Argv {
  explicit Argv(const Args& args) {
    pointers.reserve(args.size());
    lengths.reserve(args.size());
    for (const auto& arg : args) {
      pointers.push_back(arg.data());
      lengths.push_back(arg.size());
    }
  }
  // mutable: hiredis 0.14 takes `const char**` (it does not write through it).
  mutable std::vector<const char*> pointers;
  mutable std::vector<std::size_t> lengths;
};

}  // namespace

Reply::Reply(redisReply* reply, bool owned) : reply_(reply, Free{!owned}) {}
void Reply::Free::operator()(redisReply* reply) const {
  if (!borrowed) freeReplyObject(reply);
}
bool Reply::is_error() const { return reply_ && reply_->type == REDIS_REPLY_ERROR; }
bool Reply::is_nil() const { return !reply_ || reply_->type == REDIS_REPLY_NIL; }
bool Reply::is_array() const { return reply_ && reply_->type == REDIS_REPLY_ARRAY; }
bool Reply::is_integer() const { return reply_ && reply_->type == REDIS_REPLY_INTEGER; }
std::string_view Reply::text() const { return text_of(reply_.get()); }
long long Reply::integer() const { return integer_of(reply_.get()); }
std::size_t Reply::size() const { return is_array() ? reply_->elements : 0; }
const redisReply* Reply::element(std::size_t index) const { return reply_->element[index]; }

std::string_view text_of(const redisReply* reply) {
  if (!reply) return {};
  switch (reply->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR: return {reply->str, reply->len};
    default: return {};
  }
}

bool is_nil(const redisReply* reply) { return !reply || reply->type == REDIS_REPLY_NIL; }

long long integer_of(const redisReply* reply) {
  if (!reply) return 0;
  if (reply->type == REDIS_REPLY_INTEGER) return reply->integer;
  if (reply->type == REDIS_REPLY_STRING) {
    try {
      return std::stoll(std::string(reply->str, reply->len));
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

Connection::Connection(const ServerAddress& address)
    : address_(address), read_timeout_(address.command_timeout) {}

Connection::~Connection() { reset(); }

void Connection::use_reply_arena() {
  if (arena_) return;
  arena_ = std::make_unique<ReplyArena>();
  if (context_) arena_->install(context_->reader);
}

void Connection::reset() {
  if (context_) redisFree(context_);
  context_ = nullptr;
  client_id_ = 0;
}

void Connection::fail(std::string_view what) {
  last_error_ = context_ && context_->errstr[0] ? context_->errstr : std::string(what);
  reset();
  backoff_ = backoff_.count() == 0 ? first_backoff : std::min(backoff_ * 2, last_backoff);
  retry_at_ = std::chrono::steady_clock::now() + backoff_;
  throw connection_error(address_, fmt::format("{}: {}", what, last_error_));
}

void Connection::ensure() {
  if (context_) return;
  if (std::chrono::steady_clock::now() < retry_at_) {
    throw connection_error(address_, "not connected (reconnecting; last error: " + last_error_ + ")");
  }
  context_ = redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(address_.connect_timeout));
  if (!context_) fail("cannot connect");
  if (context_->err) fail("cannot connect");
  redisSetTimeout(context_, to_timeval(read_timeout_));
  redisEnableKeepAlive(context_);
  auto login = [&](const Args& args, std::string_view what) {
    const Argv argv(args);
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(args.size()), argv.pointers.data(), argv.lengths.data())));
    if (!reply.get()) fail(what);
    if (reply.is_error()) {
      // A refused login is not a dropped connection: no point retrying it quickly.
      const auto status = reply_status(address_, what, reply);
      reset();
      backoff_ = last_backoff;
      retry_at_ = std::chrono::steady_clock::now() + backoff_;
      last_error_ = status.message();
      throw Error(status);
    }
    return reply;
  };
  if (!address_.password.empty()) {
    login(address_.user.empty() ? Args{"AUTH", address_.password} : Args{"AUTH", address_.user, address_.password},
          "AUTH");
  }
  if (address_.db != 0) login(Args{"SELECT", std::to_string(address_.db)}, "SELECT");
  client_id_ = login(Args{"CLIENT", "ID"}, "CLIENT ID").integer();
  if (arena_) arena_->install(context_->reader);  // after the login replies, which are freed as usual
  backoff_ = milliseconds(0);
}

Reply Connection::command(const Args& args) {
  ensure();
  if (arena_) arena_->reset();  // the previous command's replies are gone (use_reply_arena)
  const Argv argv(args);
  void* raw = redisCommandArgv(context_, static_cast<int>(args.size()), argv.pointers.data(), argv.lengths.data());
  if (!raw) fail(args.empty() ? "command" : args.front());
  return adopt(raw);
}

void Commands::header(char kind, std::size_t value) {
  char digits[24];
  const auto [end, error] = std::to_chars(digits, digits + sizeof digits, value);
  buffer_.push_back(kind);
  buffer_.append(digits, end);
  buffer_.append("\r\n", 2);
}

void Commands::begin(std::size_t argc) {
  header('*', argc);
  ++count_;
}

void Commands::arg(std::string_view bytes) {
  header('$', bytes.size());
  buffer_.append(bytes);
  buffer_.append("\r\n", 2);
}

void Commands::arg(long long number) {
  char digits[24];
  const auto [end, error] = std::to_chars(digits, digits + sizeof digits, number);
  arg(std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

char* Commands::reserve(std::size_t size) {
  header('$', size);
  const auto at = buffer_.size();
  buffer_.resize(at + size + 2);
  buffer_[at + size] = '\r';
  buffer_[at + size + 1] = '\n';
  return buffer_.data() + at;
}

void Commands::add(const Args& args) {
  begin(args.size());
  for (const auto& arg : args) this->arg(arg);
}

std::vector<Reply> Connection::pipeline(const std::vector<Args>& commands, Status& failure) {
  Commands encoded;
  for (const auto& args : commands) encoded.add(args);
  return pipeline(encoded, commands.empty() || commands.front().empty() ? "pipeline" : commands.front().front(),
                  failure);
}

std::vector<Reply> Connection::pipeline(const Commands& commands, std::string_view what, Status& failure) {
  try {
    send(commands, what);
  } catch (const Error& error) {
    failure = error.status();
    return {};
  }
  return receive(commands.count(), what, failure);
}

void Connection::send(const Commands& commands, std::string_view what) {
  ensure();
  if (arena_) arena_->reset();
  const auto bytes = commands.bytes();
  if (commands.empty()) return;
  if (redisAppendFormattedCommand(context_, bytes.data(), bytes.size()) != REDIS_OK) fail(what);
  // Written now, not with the first read: the server works on them meanwhile.
  for (int done = 0; !done;) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) fail(what);
  }
}

std::vector<Reply> Connection::receive(std::size_t count, std::string_view what, Status& failure) {
  std::vector<Reply> replies;
  replies.reserve(count);
  try {
    if (!context_) throw connection_error(address_, fmt::format("{}: connection dropped before the replies came", what));
    for (std::size_t i = 0; i < count; ++i) {
      void* raw = nullptr;
      if (redisGetReply(context_, &raw) != REDIS_OK || !raw) fail(what);
      replies.push_back(adopt(raw));
    }
  } catch (const Error& error) {
    failure = error.status();
  }
  return replies;
}

void Connection::set_read_timeout(milliseconds timeout) {
  if (timeout == read_timeout_) return;
  read_timeout_ = timeout;
  if (context_) redisSetTimeout(context_, to_timeval(timeout));
}

ConnectionPool::ConnectionPool(const ServerAddress& address, std::size_t size)
    : address_(address), size_(std::max<std::size_t>(size, 1)) {}

ConnectionPool::Lease ConnectionPool::acquire() {
  std::unique_lock lock(mutex_);
  returned_.wait(lock, [&] { return !idle_.empty() || created_ < size_; });
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(connection));
  }
  ++created_;
  return Lease(*this, std::make_unique<Connection>(address_));
}

ConnectionPool::Lease::~Lease() {
  if (!connection_) return;
  {
    std::lock_guard lock(pool_->mutex_);
    pool_->idle_.push_back(std::move(connection_));
  }
  pool_->returned_.notify_one();
}

std::string Script::sha() const {
  std::lock_guard lock(mutex_);
  return sha_;
}

Args Script::command(const Args& keys, const Args& args) const {
  Args command{"EVAL", text_, std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  return command;
}

Reply Script::run(Connection& connection, const Args& keys, const Args& args) const {
  if (auto known = sha(); !known.empty()) {
    Args command{"EVALSHA", known, std::to_string(keys.size())};
    command.insert(command.end(), keys.begin(), keys.end());
    command.insert(command.end(), args.begin(), args.end());
    Reply reply = connection.command(command);
    if (!reply.is_error() || !reply.text().starts_with("NOSCRIPT")) return reply;
  }
  Reply loaded = connection.command(Args{"SCRIPT", "LOAD", text_});
  if (!loaded.is_error()) {
    std::lock_guard lock(mutex_);
    sha_ = std::string(loaded.text());
  }
  return connection.command(command(keys, args));
}

}  // namespace mq::engines::redis
