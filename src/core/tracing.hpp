// Trace propagation between mq/trace.hpp and messages (used by the producer and the
// consumer runtime).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mq/message.hpp"
#include "mq/trace.hpp"

namespace mq::core {

// Adds traceparent and x-trace-id for the calling thread's current context (a child
// span per message) unless the message already has a traceparent. Reads the thread's
// context once, so a batch pays for it once; without a context inject() is a no-op.
// Use on the sending thread only, within one send call (it refers to the thread's
// context).
class TraceInjector {
 public:
  TraceInjector();
  bool active() const { return parent_ != nullptr; }
  void inject(Message& message) const;

 private:
  const trace::Context* parent_ = nullptr;  // the thread's current context
  // "00-<trace id>-<span>-<flags>", formatted once per send; each message gets a copy
  // with its own 16 span digits written in.
  std::string traceparent_;
  std::size_t span_offset_ = 0;  // where the span digits start in traceparent_
  // Span ids of this send (splitmix64, seeded once from the thread's generator): no
  // thread-local look-up per message. Mutable: inject() is logically const.
  mutable std::uint64_t span_state_ = 0;
};

// inject() for one message.
void inject_trace(Message& message);

// The context a message carries: its traceparent, or a trace continuing x-trace-id.
std::optional<trace::Context> extract_trace(const Message& message);
void notify_trace_hook(trace::Event event, const Message& message, const trace::Context& context);

// Runs a handler inside the trace of the message it handles (C22), on the worker
// thread, for the object's lifetime. The message's headers are parsed only when
// something asks for the context (trace::current(), a send, a Scope, the hook): a
// handler that never does pays two header scans. `message` must outlive this object.
// Not movable; one per handler call.
class HandlerTrace {
 public:
  explicit HandlerTrace(const Message& message);
  ~HandlerTrace();
  HandlerTrace(const HandlerTrace&) = delete;
  HandlerTrace& operator=(const HandlerTrace&) = delete;

  // Parses the message's context and makes it current (once); called by the readers
  // of the thread's context.
  void resolve();

 private:
  const Message* message_ = nullptr;  // null: resolved, or the message has no trace
  HandlerTrace* outer_ = nullptr;     // the thread's pending handler before this one
  std::optional<trace::Context> previous_;  // the thread's context before it was swapped
  bool swapped_ = false;
};

}  // namespace mq::core
