// Trace context that travels with messages: W3C `traceparent` and, for the Go services
// that read it, `x-trace-id`.
//
// A send inside a trace::Scope carries the scope's trace (as a child span); a handler runs
// inside the trace of the message it handles, so sends from a handler continue the
// trace. No OpenTelemetry dependency: set_hook() bridges to a tracer of your own.
// Scopes are per thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mq {
struct Message;
}

namespace mq::trace {

struct Context {
  std::string trace_id;  // 32 lower-case hex digits, not all zero
  std::string span_id;   // 16 lower-case hex digits, not all zero
  bool sampled = true;

  // "00-<trace_id>-<span_id>-01"
  std::string traceparent() const;
  // nullopt for anything that is not a valid version-00 traceparent.
  static std::optional<Context> parse(std::string_view traceparent);
  // A new trace with a random trace id and span id.
  static Context new_trace();
  // The same trace with a new span id.
  Context child() const;
};

// The calling thread's current context, if a Scope is open.
std::optional<Context> current();

// Makes `context` current on this thread until destroyed (scopes nest). Not movable.
class Scope {
 public:
  explicit Scope(Context context);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  std::optional<Context> previous_;
};

enum class Event { send, receive };
// Called on the sending thread for each message sent with a context, and on the worker
// thread before each handler call; `context` is the message's span. Thread-safe to set;
// the hook itself must be thread-safe. An empty function removes it.
using Hook = std::function<void(Event, const Message&, const Context&)>;
void set_hook(Hook hook);

}  // namespace mq::trace
