// The driver's child processes: the shop services, the test server's script and mqctl.
// Started with posix_spawn; waited for with a deadline (a child that overstays it is
// killed), never with a fixed sleep. Used from the driver's one thread.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace shop::process {

struct Spawn {
  // A process group of its own: the terminal's Ctrl-C (sent to the foreground group)
  // does not reach it, so the driver decides when it stops (the test server).
  bool own_process_group = false;
  std::vector<std::string> environment;  // NAME=VALUE added to (or replacing in) ours
  std::filesystem::path output;          // stdout goes here when not empty
  bool errors_to_output = false;         // stderr too (else it stays the driver's)
};

// Starts args[0] (a path) with args; throws std::runtime_error if it cannot.
pid_t start(const std::vector<std::string>& args, const Spawn& how = {});

// Waits until `pid` exits; after `timeout` it is killed (SIGKILL). Returns its exit
// status, or -1 when it died of a signal or was killed.
int wait(pid_t pid, std::chrono::milliseconds timeout);

// Non-blocking: true (and `status` as wait's) when `pid` has exited.
bool exited(pid_t pid, int& status);

// Set by SIGINT, SIGTERM and SIGHUP once install_interrupt_handlers() ran: the driver
// then stops what it started and exits 130.
void install_interrupt_handlers();
bool interrupted();

}  // namespace shop::process
