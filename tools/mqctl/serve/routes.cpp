#include "routes.hpp"

#include <httplib.h>

#include <functional>

#include "assets.hpp"
#include "console.hpp"

namespace mqctl {
namespace {

// Longest accepted request path; anything longer is 414 before routing, so the route
// regexes only ever see short input.
constexpr std::size_t max_path = 512;
constexpr std::size_t max_body = 64 * 1024;
constexpr std::size_t default_limit = 100;
constexpr std::size_t max_limit = 10'000;

// A name segment: the characters mq allows in topic and group names.
const std::string name_pattern = "([A-Za-z0-9._-]{1,249})";

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}});
}

int http_status(mq::ErrorCode code) {
  switch (code) {
    case mq::ErrorCode::invalid_argument:
    case mq::ErrorCode::limit_exceeded: return 400;
    case mq::ErrorCode::not_found: return 404;
    case mq::ErrorCode::already_exists: return 409;
    case mq::ErrorCode::not_supported: return 501;
    case mq::ErrorCode::connection:
    case mq::ErrorCode::timeout:
    case mq::ErrorCode::closed: return 503;
    default: return 500;
  }
}

// Runs a handler and turns every failure into a JSON error response: a bad request
// never escapes as an exception into the server.
using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
Handler guarded(Handler handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const mq::Error& error) {
      send_error(res, http_status(error.code()), error.what());
    } catch (const json::exception& error) {
      send_error(res, 400, std::string("bad JSON: ") + error.what());
    } catch (const std::exception& error) {
      send_error(res, 500, error.what());
    }
  };
}

// Constant-time comparison: the time taken says nothing about how much matched.
bool same_secret(const std::string& given, const std::string& expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i) diff |= given[i] ^ expected[i % expected.size()];
  return diff == 0;
}

Handler authorized(const std::string& token, Handler handler) {
  return guarded([token, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (header.rfind(prefix, 0) != 0 || !same_secret(header.substr(prefix.size()), token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, "a valid token is needed: Authorization: Bearer TOKEN");
      return;
    }
    handler(req, res);
  });
}

json parse_body(const httplib::Request& req) {
  json body = json::parse(req.body);
  if (!body.is_object()) throw mq::Error(mq::ErrorCode::invalid_argument, "the body must be a JSON object");
  return body;
}

std::size_t limit_param(const httplib::Request& req) {
  if (!req.has_param("limit")) return default_limit;
  const std::string text = req.get_param_value("limit");
  std::size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || value > max_limit) throw mq::Error(mq::ErrorCode::invalid_argument, "limit must be 1.." + std::to_string(max_limit));
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  if (value == 0 || value > max_limit) throw mq::Error(mq::ErrorCode::invalid_argument, "limit must be 1.." + std::to_string(max_limit));
  return value;
}

// {"all": true} | {"ids": ["..."]} | {"older_than_ms": N}: exactly one.
mq::DeadLetterSelection selection_from(const json& body) {
  const bool all = body.contains("all") && body.at("all").get<bool>();
  const bool ids = body.contains("ids");
  const bool older = body.contains("older_than_ms");
  if (all + ids + older != 1) {
    throw mq::Error(mq::ErrorCode::invalid_argument, "give exactly one of all, ids, older_than_ms");
  }
  if (all) return mq::DeadLetterSelection::everything();
  if (ids) {
    auto list = body.at("ids").get<std::vector<std::string>>();
    if (list.empty() || list.size() > max_limit) throw mq::Error(mq::ErrorCode::invalid_argument, "ids must list 1..10000 ids");
    return mq::DeadLetterSelection::by_ids(std::move(list));
  }
  const auto age = body.at("older_than_ms").get<std::int64_t>();
  if (age <= 0) throw mq::Error(mq::ErrorCode::invalid_argument, "older_than_ms must be positive");
  return mq::DeadLetterSelection::older_than_age(std::chrono::milliseconds(age));
}

void add_api(httplib::Server& server, Console& console, const std::string& token) {
  server.Get("/api/overview", guarded([&console](const auto&, auto& res) { send_json(res, 200, console.overview()); }));
  server.Get("/api/topics", guarded([&console](const auto&, auto& res) {
               send_json(res, 200, console.overview()["topics"]);
             }));
  server.Get("/api/groups", guarded([&console](const auto&, auto& res) {
               send_json(res, 200, console.overview()["groups"]);
             }));
  server.Get("/api/groups/" + name_pattern, guarded([&console](const auto& req, auto& res) {
               const json overview = console.overview();  // outlives the loop below
               for (const auto& group : overview["groups"]) {
                 if (group["name"] == req.matches[1].str()) return send_json(res, 200, group);
               }
               send_error(res, 404, "group '" + req.matches[1].str() + "' does not exist");
             }));
  server.Post("/api/topics", authorized(token, [&console](const auto& req, auto& res) {
                const json body = parse_body(req);
                mq::TopicOptions options;
                options.partitions = body.value("partitions", 0);
                if (options.partitions < 0 || options.partitions > 10'000) {
                  throw mq::Error(mq::ErrorCode::invalid_argument, "partitions must be 0..10000");
                }
                const auto name = body.at("name").get<std::string>();
                console.create_topic(name, options);
                send_json(res, 201, {{"created", name}});
              }));
  server.Delete("/api/topics/" + name_pattern, authorized(token, [&console](const auto& req, auto& res) {
                  console.delete_topic(req.matches[1].str());
                  send_json(res, 200, {{"deleted", req.matches[1].str()}});
                }));
  server.Get("/api/dead-letters", guarded([&console](const auto& req, auto& res) {
               send_json(res, 200, console.all_dead_letters(limit_param(req)));
             }));
  server.Get("/api/dead-letters/" + name_pattern, guarded([&console](const auto& req, auto& res) {
               send_json(res, 200, console.dead_letters(req.matches[1].str(), limit_param(req)));
             }));
  for (const bool replay : {true, false}) {
    const std::string verb = replay ? "replay" : "purge";
    server.Post("/api/dead-letters/" + name_pattern + "/" + verb,
                authorized(token, [&console, replay, verb](const auto& req, auto& res) {
                  const auto selection = selection_from(parse_body(req));
                  const auto group = req.matches[1].str();
                  const auto count = replay ? console.replay(group, selection) : console.purge(group, selection);
                  send_json(res, 200, {{"group", group}, {verb == "replay" ? "replayed" : "purged", count}});
                }));
  }
}

}  // namespace

void add_routes(httplib::Server& server, Console& console, const std::string& token) {
  server.set_payload_max_length(max_body);
  server.set_read_timeout(std::chrono::seconds(5));
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.path.size() > max_path) {
      send_error(res, 414, "path too long");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // httplib's own rejections (malformed request line, unknown route) get a JSON body;
  // a handler's JSON error is left as it is.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        send_error(res, res.status, res.status == 404 ? "no such path" : "bad request");
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, 500, "internal error");
  });
  server.Get("/metrics", guarded([&console](const auto&, auto& res) {
               res.set_content(console.metrics(), "text/plain; version=0.0.4; charset=utf-8");
             }));
  add_api(server, console, token);
  server.Get("/(|index\\.html|app\\.js|style\\.css)", [](const httplib::Request& req, httplib::Response& res) {
    const Asset* asset = find_asset(req.path == "/" ? "/index.html" : req.path);
    if (!asset) return send_error(res, 404, "no such path");
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::string(asset->body), std::string(asset->content_type).c_str());
  });
}

}  // namespace mqctl
