#include "mqctl.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "process.hpp"

namespace shop {

std::filesystem::path mqctl_path() {
  const char* override = std::getenv("MQCTL");
  return override && *override ? override : SHOP_MQCTL_PATH;
}

std::int64_t replay_with_mqctl(const std::string& url, const std::string& group, const std::filesystem::path& dir) {
  const auto log = dir / "mqctl-replay.json";
  const std::vector<std::string> args = {mqctl_path().string(), "dlq", "replay", group, "--all", "--json"};
  const int status = process::wait(process::start(args, {false, {"MQ_URL=" + url}, log, false}), std::chrono::seconds(60));
  std::stringstream output;
  output << std::ifstream(log).rdbuf();
  if (status != 0) {
    // Its reason went to stderr (ours), with the URL redacted.
    throw std::runtime_error("mqctl dlq replay " + group + " failed (status " + std::to_string(status) + ")");
  }
  try {
    return nlohmann::json::parse(output.str()).at("replayed").get<std::int64_t>();
  } catch (const nlohmann::json::exception&) {
    throw std::runtime_error("mqctl dlq replay printed no count: " + output.str());
  }
}

}  // namespace shop
