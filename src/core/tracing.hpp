// Trace propagation between mq/trace.hpp and messages (used by the producer and the
// consumer runtime).
#pragma once

#include <optional>
#include <string>

#include "mq/message.hpp"
#include "mq/trace.hpp"

namespace mq::core {

// Adds traceparent and x-trace-id for the calling thread's current context unless the
// message already has a traceparent. One send call is one operation, so it is one child
// span of that context: every message of a send_batch carries the same traceparent (the
// same trace, parent span and new span id). Reads the thread's context and formats both
// headers once per send; a message without headers of its own then shares them as one
// immutable block (Headers::Shared) instead of two new strings per message. Without a
// context inject() is a no-op. Use on the sending thread only, within one send call
// (it refers to the thread's context).
class TraceInjector {
 public:
  TraceInjector();
  bool active() const { return parent_ != nullptr; }
  void inject(Message& message) const;
  // The span this send's messages carry (only when active()).
  const trace::Context& span() const { return span_; }

 private:
  const trace::Context* parent_ = nullptr;  // the thread's current context
  trace::Context span_;                     // the child span of this send
  Headers::Shared headers_;                 // traceparent and x-trace-id of span_
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
