#include "mq/trace.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <utility>

#include "core/tracing.hpp"
#include "mq/message.hpp"
#include "mq/names.hpp"

namespace mq::trace {
namespace {

// Both are touched by every handler call. initial-exec: a fixed offset from the thread
// pointer instead of a __tls_get_addr call per access (libmq is a shared library); glibc
// keeps static TLS room for the few bytes even when libmq is dlopen()ed.
[[gnu::tls_model("initial-exec")]] thread_local std::optional<Context> current_context;
// A handler whose message's trace is not parsed yet (core::HandlerTrace); every reader
// of current_context resolves it first. Thread-local: no locking.
[[gnu::tls_model("initial-exec")]] thread_local core::HandlerTrace* pending_handler = nullptr;

// current_context, with a pending handler's trace made current first.
std::optional<Context>& resolved_context() {
  if (auto* handler = pending_handler) handler->resolve();
  return current_context;
}

std::mutex hook_mutex;
std::shared_ptr<const Hook> installed_hook;
// Lets every send and delivery skip the mutex while no hook is installed (the usual case).
std::atomic<bool> hook_installed{false};

// Writes `digits` random lower-case hex digits to `out`, never all zeros (invalid in
// W3C trace context).
void fill_random_hex(char* out, std::size_t digits) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  bool all_zero = true;
  for (std::size_t i = 0; i < digits;) {
    auto bits = random();
    all_zero = all_zero && bits == 0;
    for (int n = 0; n < 16 && i < digits; ++n, ++i, bits >>= 4) out[i] = hex[bits & 0xf];
  }
  if (all_zero) out[digits - 1] = '1';
}

std::string random_hex(std::size_t digits) {
  std::string text(digits, '0');
  fill_random_hex(text.data(), digits);
  return text;
}

int hex_digit(char c) { return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10; }

bool is_hex_id(std::string_view text, std::size_t digits) {
  if (text.size() != digits || text.find_first_not_of("0123456789abcdef") != std::string_view::npos) return false;
  return text.find_first_not_of('0') != std::string_view::npos;
}

}  // namespace

std::string Context::traceparent() const {
  std::string text;
  text.reserve(55);
  text.append("00-").append(trace_id).append("-").append(span_id).append(sampled ? "-01" : "-00");
  return text;
}

std::optional<Context> Context::parse(std::string_view text) {
  // version(2)-trace(32)-span(16)-flags(2)
  if (text.size() != 55 || text.substr(0, 3) != "00-" || text[35] != '-' || text[52] != '-') return std::nullopt;
  Context context{std::string(text.substr(3, 32)), std::string(text.substr(36, 16)), false};
  const auto flags = text.substr(53, 2);
  if (!is_hex_id(context.trace_id, 32) || !is_hex_id(context.span_id, 16)) return std::nullopt;
  if (flags.find_first_not_of("0123456789abcdef") != std::string_view::npos) return std::nullopt;
  context.sampled = (hex_digit(flags[1]) & 1) != 0;
  return context;
}

Context Context::new_trace() { return Context{random_hex(32), random_hex(16), true}; }

Context Context::child() const { return Context{trace_id, random_hex(16), sampled}; }

std::optional<Context> current() { return resolved_context(); }

Scope::Scope(Context context) : previous_(std::move(resolved_context())) { current_context = std::move(context); }

Scope::~Scope() { current_context = std::move(previous_); }

void set_hook(Hook hook) {
  std::lock_guard lock(hook_mutex);
  installed_hook = hook ? std::make_shared<const Hook>(std::move(hook)) : nullptr;
  hook_installed.store(installed_hook != nullptr, std::memory_order_release);
}

}  // namespace mq::trace

namespace mq::core {

TraceInjector::TraceInjector() {
  const auto& parent = trace::resolved_context();
  if (!parent) return;
  parent_ = &*parent;
  span_ = parent_->child();
  headers_ = std::make_shared<const std::vector<Headers::Entry>>(std::vector<Headers::Entry>{
      {std::string(names::traceparent_header), span_.traceparent()},
      {std::string(names::trace_id_header), span_.trace_id}});
}

void TraceInjector::inject(Message& message) const {
  if (!parent_) return;
  if (message.headers.empty()) {
    message.headers = Headers(headers_);  // the common case: shared, nothing copied
  } else {
    if (message.headers.contains(names::traceparent_header)) return;  // the sender's own
    const auto& entries = *headers_;
    message.headers.add(entries[0].first, entries[0].second);
    message.headers.set(entries[1].first, entries[1].second);  // replaces an x-trace-id of the sender's
  }
  notify_trace_hook(trace::Event::send, message, span_);
}

void inject_trace(Message& message) { TraceInjector().inject(message); }

HandlerTrace::HandlerTrace(const Message& message) {
  if (!message.headers.contains(names::traceparent_header) && !message.headers.contains(names::trace_id_header)) {
    return;  // nothing to continue: the thread's context stays as it is
  }
  message_ = &message;
  outer_ = std::exchange(trace::pending_handler, this);
  // A hook is told of every receive, so it needs the context now.
  if (trace::hook_installed.load(std::memory_order_acquire)) {
    resolve();
    if (swapped_) notify_trace_hook(trace::Event::receive, message, *trace::current_context);
  }
}

void HandlerTrace::resolve() {
  if (!message_) return;
  const Message& message = *std::exchange(message_, nullptr);
  trace::pending_handler = outer_;  // resolved: readers no longer come here
  auto context = extract_trace(message);
  if (!context) return;  // no valid trace: the thread's context stays
  previous_ = std::move(trace::resolved_context());
  trace::current_context = std::move(*context);
  swapped_ = true;
}

HandlerTrace::~HandlerTrace() {
  if (message_) trace::pending_handler = outer_;  // never resolved
  if (swapped_) trace::current_context = std::move(previous_);
}

std::optional<trace::Context> extract_trace(const Message& message) {
  if (const auto text = message.headers.find(names::traceparent_header)) {
    if (auto context = trace::Context::parse(*text)) return context;
  }
  // Messages from services that only know x-trace-id: continue their trace id.
  if (const auto id = message.headers.find(names::trace_id_header)) {
    auto context = trace::Context::new_trace();
    if (id->size() == 32 && id->find_first_not_of("0123456789abcdef") == std::string_view::npos) {
      context.trace_id = std::string(*id);
    }
    return context;
  }
  return std::nullopt;
}

void notify_trace_hook(trace::Event event, const Message& message, const trace::Context& context) {
  if (!trace::hook_installed.load(std::memory_order_acquire)) return;
  std::shared_ptr<const trace::Hook> hook;
  {
    std::lock_guard lock(trace::hook_mutex);
    hook = trace::installed_hook;
  }
  if (hook) (*hook)(event, message, context);
}

}  // namespace mq::core
