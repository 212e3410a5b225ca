// URL parsing and the table of engines by URL scheme.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/engine.hpp"

namespace mq::core {

// scheme://[user[:password]@]host[:port][,host[:port]...][/path][?name=value&...]
// For embedded:// everything after "//" is the path ("embedded://./data",
// "embedded:///var/lib/mq" gives "/var/lib/mq"). Percent-escapes in user, password and query are decoded.
struct EngineUrl {
  std::string scheme;
  std::string user;
  std::string password;                            // never log; use redacted
  std::vector<std::pair<std::string, int>> hosts;  // port 0 when not given
  std::string path;                                // server engines: without the leading "/"
  std::map<std::string, std::string> query;
  std::string redacted;                            // the URL with the password as ***
};

// Throws invalid_argument naming the problem (the message shows the redacted URL).
EngineUrl parse_url(std::string_view url);

using EngineFactory = std::shared_ptr<Engine> (*)(const EngineUrl&, const Config&);

// Every scheme DESIGN.md knows, built into this binary or not.
const std::vector<std::string>& known_schemes();

}  // namespace mq::core

namespace mq::engines {
// Generated (src/engines/registry.cpp.in): the engines compiled into this build.
const std::map<std::string, core::EngineFactory>& built_engines();
}  // namespace mq::engines
