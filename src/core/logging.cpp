#include "core/logging.hpp"

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>

namespace mq {
namespace {

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "?";
}

void stderr_sink(LogLevel level, std::string_view message) {
  std::fprintf(stderr, "mq %.*s: %.*s\n", static_cast<int>(level_name(level).size()),
               level_name(level).data(), static_cast<int>(message.size()), message.data());
}

// The sink is swapped rarely and read on every log line: readers copy the shared_ptr
// under a mutex so that a sink being replaced stays alive while it runs.
struct LoggerState {
  std::mutex mutex;
  std::shared_ptr<const LogSink> sink = std::make_shared<const LogSink>(&stderr_sink);
  std::atomic<LogLevel> minimum{LogLevel::warning};
};

LoggerState& state() {
  static LoggerState instance;
  return instance;
}

}  // namespace

void set_logger(LogSink sink, LogLevel minimum) {
  auto& logger = state();
  std::lock_guard lock(logger.mutex);
  logger.sink = std::make_shared<const LogSink>(sink ? std::move(sink) : LogSink(&stderr_sink));
  logger.minimum = minimum;
}

void reset_logger(LogLevel minimum) { set_logger(&stderr_sink, minimum); }

void set_log_level(LogLevel minimum) { state().minimum = minimum; }

namespace core {

bool log_enabled(LogLevel level) noexcept {
  return level != LogLevel::off && level >= state().minimum.load(std::memory_order_relaxed);
}

void log_message(LogLevel level, std::string_view message) {
  std::shared_ptr<const LogSink> sink;
  {
    auto& logger = state();
    std::lock_guard lock(logger.mutex);
    sink = logger.sink;
  }
  (*sink)(level, message);
}

}  // namespace core
}  // namespace mq
