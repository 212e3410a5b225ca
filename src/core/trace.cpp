#include "mq/trace.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <random>

#include "core/tracing.hpp"
#include "mq/message.hpp"
#include "mq/names.hpp"

namespace mq::trace {
namespace {

thread_local std::optional<Context> current_context;

std::mutex hook_mutex;
std::shared_ptr<const Hook> installed_hook;
// Lets every send and delivery skip the mutex while no hook is installed (the usual case).
std::atomic<bool> hook_installed{false};

std::string random_hex(std::size_t digits) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string text(digits, '0');
  for (std::size_t i = 0; i < digits;) {
    auto bits = random();
    for (int n = 0; n < 16 && i < digits; ++n, ++i, bits >>= 4) text[i] = hex[bits & 0xf];
  }
  if (text.find_first_not_of('0') == std::string::npos) text.back() = '1';  // all-zero is invalid
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

std::optional<Context> current() { return current_context; }

Scope::Scope(Context context) : previous_(std::move(current_context)) { current_context = std::move(context); }

Scope::~Scope() { current_context = std::move(previous_); }

void set_hook(Hook hook) {
  std::lock_guard lock(hook_mutex);
  installed_hook = hook ? std::make_shared<const Hook>(std::move(hook)) : nullptr;
  hook_installed.store(installed_hook != nullptr, std::memory_order_release);
}

}  // namespace mq::trace

namespace mq::core {

void inject_trace(Message& message) {
  if (message.headers.contains(names::traceparent_header)) return;  // the sender set its own
  const auto& parent = trace::current_context;  // this thread's; no copy
  if (!parent) return;
  const auto span = parent->child();
  message.headers.add(std::string(names::traceparent_header), span.traceparent());
  message.headers.set(names::trace_id_header, span.trace_id);
  notify_trace_hook(trace::Event::send, message, span);
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
