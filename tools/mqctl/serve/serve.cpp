// mqctl serve: the HTTP console (page, /metrics, JSON API) on 127.0.0.1 by default.
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "console.hpp"
#include "routes.hpp"

namespace mqctl {
namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1";
  int port = 8080;
  std::string token;  // empty: $MQCTL_TOKEN, else generated
  bool allow_remote = false;
  std::string interval = "1s";
};

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void on_stop_signal(int) { stop_requested = 1; }

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// 128 bits from the OS's random source, as hex.
std::string generate_token() {
  std::random_device random;
  std::string token;
  const char* digits = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) token += digits[random() & 0xf];
  return token;
}

int serve(const Globals& globals, ServeArgs args) {
  if (!is_loopback(args.listen) && !args.allow_remote) {
    throw CLI::ValidationError("--listen", "'" + args.listen +
                                               "' is not a loopback address: pass --allow-remote to serve other hosts");
  }
  const auto interval = parse_duration(args.interval, "--interval");
  if (args.token.empty()) {
    if (const char* env = std::getenv("MQCTL_TOKEN"); env && *env) args.token = env;
  }
  const bool generated = args.token.empty();
  if (generated) args.token = generate_token();

  Console console(connect(globals), interval);
  httplib::Server server;
  add_routes(server, console, args.token);

  int port = args.port;
  const bool bound = port == 0 ? (port = server.bind_to_any_port(args.listen)) > 0 : server.bind_to_port(args.listen, port);
  if (!bound) throw mq::Error(mq::ErrorCode::connection, "cannot listen on " + args.listen + ":" + std::to_string(args.port));

  const std::string host = args.listen.find(':') != std::string::npos ? "[" + args.listen + "]" : args.listen;
  std::cout << "mqctl console on http://" << host << ":" << port << "/ for " << console.overview()["url"].get<std::string>()
            << std::endl;
  // Printed once, here only; never logged or sent back by the server.
  if (generated) std::cerr << "mqctl: token for changes (replay, purge, create, delete): " << args.token << std::endl;

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  // A signal handler may not call stop(); this thread does it for the handler. stop()
  // before listen_after_bind() has started is a no-op, so it repeats until listening ends.
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    while (!done) {
      if (stop_requested) server.stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  server.listen_after_bind();
  done = true;
  stopper.join();
  std::cerr << "mqctl: console stopped\n";
  return exit_ok;
}

}  // namespace

void add_serve_command(CLI::App& app, Globals& globals, Action& action) {
  auto args = std::make_shared<ServeArgs>();
  auto* command = app.add_subcommand(
      "serve", "HTTP console: a live web page, /metrics (Prometheus) and a JSON API; changes need a token");
  command->add_option("--listen", args->listen, "Address to listen on (default 127.0.0.1)");
  command->add_option("--port", args->port, "Port (default 8080; 0: any free port)")->check(CLI::Range(0, 65535));
  command->add_option("--token", args->token,
                      "Token for replay, purge, create, delete (default: $MQCTL_TOKEN, else generated and printed once)");
  command->add_flag("--allow-remote", args->allow_remote, "Allow a non-loopback --listen address");
  command->add_option("--interval", args->interval, "How often topics and groups are sampled (default 1s)");
  command->callback([&globals, &action, args] { action = [&globals, args] { return serve(globals, *args); }; });
}

}  // namespace mqctl
