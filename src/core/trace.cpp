#include "mq/trace.hpp"

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <utility>

#include "core/tracing.hpp"
#include "mq/message.hpp"
#include "mq/names.hpp"

namespace mq::trace {
namespace {

thread_local std::optional<Context> current_context;
// A handler whose message's trace is not parsed yet (core::HandlerTrace); every reader
// of current_context resolves it first. Thread-local: no locking.
thread_local core::HandlerTrace* pending_handler = nullptr;

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

namespace {

constexpr std::size_t span_digits = 16;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

TraceInjector::TraceInjector() {
  const auto& parent = trace::resolved_context();
  if (!parent) return;
  parent_ = &*parent;
  // Built here rather than by Context::traceparent(): the span digits sit right after
  // the trace id whatever its length (a user-made Context is not validated).
  span_offset_ = 3 + parent_->trace_id.size() + 1;
  traceparent_.reserve(span_offset_ + span_digits + 3);
  traceparent_.append("00-").append(parent_->trace_id).append("-").append(span_digits, '0');
  traceparent_.append(parent_->sampled ? "-01" : "-00");
  char seed[span_digits];
  trace::fill_random_hex(seed, span_digits);  // the thread's generator, once per send
  std::memcpy(&span_state_, seed, sizeof span_state_);
}

void TraceInjector::inject(Message& message) const {
  if (!parent_) return;
  bool has_trace_id = false;
  for (const auto& [name, value] : message.headers) {
    if (name == names::traceparent_header) return;  // the sender's own
    has_trace_id = has_trace_id || name == names::trace_id_header;
  }
  // The child span: a copy of the formatted traceparent with new span digits (never
  // all zero: invalid in W3C trace context).
  std::string traceparent = traceparent_;
  std::uint64_t span = splitmix64(span_state_);
  if (span == 0) span = 1;
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = span_digits; i-- > 0; span >>= 4) traceparent[span_offset_ + i] = hex[span & 0xf];
  if (!has_trace_id) message.headers.reserve(message.headers.size() + 2);  // one allocation for both
  message.headers.add(std::string(names::traceparent_header), std::move(traceparent));
  if (has_trace_id) message.headers.set(names::trace_id_header, parent_->trace_id);
  else message.headers.add(std::string(names::trace_id_header), parent_->trace_id);
  if (trace::hook_installed.load(std::memory_order_acquire)) {
    const auto text = *message.headers.find(names::traceparent_header);
    const trace::Context span_context{parent_->trace_id, std::string(text.substr(span_offset_, span_digits)),
                                      parent_->sampled};
    notify_trace_hook(trace::Event::send, message, span_context);
  }
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
