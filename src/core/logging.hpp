// mq's internal logging front end over the injectable sink (mq/log.hpp).
#pragma once

#include <fmt/format.h>

#include <string_view>

#include "mq/log.hpp"

namespace mq::core {

bool log_enabled(LogLevel level) noexcept;
void log_message(LogLevel level, std::string_view message);

// Formats only when the level is enabled. Never pass a credential: redact URLs first.
template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (log_enabled(level)) log_message(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace mq::core
