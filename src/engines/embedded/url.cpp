// embedded://PATH[?repair=true]: the URL grammar is in README.md.
#include <fmt/format.h>

#include "engines/embedded/engine.hpp"

namespace mq::engines::embedded {

EngineSettings settings_from(const core::EngineUrl& url, const Config& config) {
  if (url.path.empty()) {
    throw Error(ErrorCode::invalid_argument, fmt::format("{}: embedded:// needs a directory, as in "
                                                         "embedded://./mq-data or embedded:///var/lib/mq",
                                                         url.redacted));
  }
  EngineSettings settings;
  settings.dir.root = url.path;
  while (settings.dir.root.size() > 1 && settings.dir.root.back() == '/') settings.dir.root.pop_back();
  settings.log.fsync = config.embedded.fsync;
  settings.log.segment_bytes = config.embedded.segment_bytes;
  settings.log.retention = config.embedded.retention;
  settings.log.retention_bytes = config.embedded.retention_bytes;
  settings.fsync_interval = std::max(config.embedded.fsync_interval, milliseconds(1));
  settings.default_partitions = config.default_partitions > 0 ? config.default_partitions : 4;
  settings.auto_create_topics = config.auto_create_topics;
  for (const auto& [name, value] : url.query) {
    if (name == "repair" && (value == "true" || value == "1")) {
      settings.log.repair = true;
    } else if (name == "repair" && (value == "false" || value == "0")) {
      settings.log.repair = false;
    } else {
      throw Error(ErrorCode::invalid_argument,
                  fmt::format("{}: unknown embedded URL option '{}={}' (known: repair=true|false)", url.redacted,
                              name, value));
    }
  }
  return settings;
}

}  // namespace mq::engines::embedded
