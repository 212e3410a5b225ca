#include "mq/trace.hpp"

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

std::string random_hex(std::size_t digits) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  while (text.size() < digits) {
    auto bits = random();
    for (int i = 0; i < 16 && text.size() < digits; ++i, bits >>= 4) text += hex[bits & 0xf];
  }
  if (text.find_first_not_of('0') == std::string::npos) text.back() = '1';  // all-zero is invalid
  return text;
}

bool is_hex_id(std::string_view text, std::size_t digits) {
  if (text.size() != digits || text.find_first_not_of("0123456789abcdef") != std::string_view::npos) return false;
  return text.find_first_not_of('0') != std::string_view::npos;
}

}  // namespace

std::string Context::traceparent() const { return "00-" + trace_id + "-" + span_id + (sampled ? "-01" : "-00"); }

std::optional<Context> Context::parse(std::string_view text) {
  // version(2)-trace(32)-span(16)-flags(2)
  if (text.size() != 55 || text.substr(0, 3) != "00-" || text[35] != '-' || text[52] != '-') return std::nullopt;
  Context context{std::string(text.substr(3, 32)), std::string(text.substr(36, 16)), false};
  const auto flags = text.substr(53, 2);
  if (!is_hex_id(context.trace_id, 32) || !is_hex_id(context.span_id, 16)) return std::nullopt;
  if (flags.find_first_not_of("0123456789abcdef") != std::string_view::npos) return std::nullopt;
  context.sampled = (std::stoi(std::string(flags), nullptr, 16) & 1) != 0;
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
}

}  // namespace mq::trace

namespace mq::core {

void inject_trace(Message& message) {
  if (message.headers.contains(names::traceparent_header)) return;  // the sender set its own
  const auto parent = trace::current();
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
  std::shared_ptr<const trace::Hook> hook;
  {
    std::lock_guard lock(trace::hook_mutex);
    hook = trace::installed_hook;
  }
  if (hook) (*hook)(event, message, context);
}

}  // namespace mq::core
