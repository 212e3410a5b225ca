// The injectable logger. By default mq logs warnings and errors to stderr and nothing
// below. Messages never contain credentials (URLs are redacted before logging).
#pragma once

#include <functional>
#include <string_view>

namespace mq {

enum class LogLevel { debug, info, warning, error, off };

using LogSink = std::function<void(LogLevel, std::string_view message)>;

// Replaces the process-wide sink and threshold. Thread-safe; the sink itself may be
// called from any mq thread concurrently and must be thread-safe.
void set_logger(LogSink sink, LogLevel minimum = LogLevel::warning);
// Restores the default stderr sink.
void reset_logger(LogLevel minimum = LogLevel::warning);
void set_log_level(LogLevel minimum);

}  // namespace mq
