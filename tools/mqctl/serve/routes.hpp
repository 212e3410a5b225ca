// The console's HTTP routes: the page, /metrics and the JSON API (README.md lists them).
#pragma once

#include <string>

namespace httplib {
class Server;
}

namespace mqctl {

class Console;

// Registers every route on `server`. Mutating routes need `token` (Authorization:
// Bearer TOKEN); without it they answer 401 and change nothing. `console` must outlive
// the server.
void add_routes(httplib::Server& server, Console& console, const std::string& token);

}  // namespace mqctl
