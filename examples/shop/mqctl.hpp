// The driver's use of the operator tool: the inventory's dead letters are replayed with
// `mqctl dlq replay`, as an operator would after fixing the stock (issue 10).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace shop {

// $MQCTL, else the mqctl this demo was built with.
std::filesystem::path mqctl_path();

// Runs `mqctl dlq replay GROUP --all --json` against `url` and returns how many dead
// letters it replayed. The URL goes in MQ_URL, not on the command line, where `ps`
// would show a password. Its output is kept in dir/mqctl-replay.json. Throws
// std::runtime_error when mqctl fails.
std::int64_t replay_with_mqctl(const std::string& url, const std::string& group, const std::filesystem::path& dir);

}  // namespace shop
