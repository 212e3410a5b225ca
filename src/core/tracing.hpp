// Trace propagation between mq/trace.hpp and messages (used by the producer and the
// consumer runtime).
#pragma once

#include <optional>

#include "mq/message.hpp"
#include "mq/trace.hpp"

namespace mq::core {

// Adds traceparent and x-trace-id for the thread's current context (a child span),
// unless the message already has a traceparent.
void inject_trace(Message& message);
// The context a message carries: its traceparent, or a trace continuing x-trace-id.
std::optional<trace::Context> extract_trace(const Message& message);
void notify_trace_hook(trace::Event event, const Message& message, const trace::Context& context);

}  // namespace mq::core
