// mqctl serve: the JSON API, the token on changes, /metrics, the loopback rule, and
// 1,000 malformed requests after which the server still answers and nothing changed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>


#include "process.hpp"

namespace mqctl::test {
namespace {

using json = nlohmann::json;
const std::string token = "test-token-0123456789";

class Console : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = engine_.url();
    ASSERT_EQ(mq({"topics", "create", "shop.order", "-p", "2"}).code, 0);
    ASSERT_EQ(mq({"produce", "shop.order", "a", "b", "c", "d"}).code, 0);
    ASSERT_EQ(mq({"consume", "shop.order", "-g", "shop.group", "--from", "earliest", "--max", "1"}).code, 0);
    ASSERT_EQ(mq({"consume", "shop.order", "-g", "bad.group", "--from", "earliest", "--max", "1", "--reject"}).code, 0);
    server_ = std::make_unique<Background>(
        dir_.path(), std::vector<std::string>{"--url", url_, "serve", "--port", "0", "--token", token, "--interval", "200ms"},
        "serve");
    const auto banner = server_->wait_for("/ for ");
    const std::string prefix = "http://127.0.0.1:";
    const auto at = banner.find(prefix);
    ASSERT_NE(at, std::string::npos) << banner;
    port_ = std::stoi(banner.substr(at + prefix.size()));
    // The URL in the banner is the redacted one: the address is there, a password is not.
    const auto at_sign = url_.find('@');
    const auto scheme_end = url_.find("://") + 3;
    EXPECT_NE(banner.find(url_.substr(at_sign == std::string::npos ? scheme_end : at_sign + 1)), std::string::npos);
    if (const auto colon = url_.find(':', scheme_end); at_sign != std::string::npos && colon < at_sign) {
      EXPECT_EQ(banner.find(url_.substr(colon, at_sign - colon + 1)), std::string::npos) << "password shown";
    }
  }
  Result mq(std::vector<std::string> args) {
    args.insert(args.begin(), {"--url", url_});
    return run(dir_.path(), args);
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(std::chrono::seconds(20));
    return c;
  }
  json get(const std::string& path) {
    auto res = client().Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
    return json::parse(res->body);
  }
  int post(const std::string& path, const std::string& body, const std::string& bearer) {
    httplib::Headers headers;
    if (!bearer.empty()) headers.emplace("Authorization", "Bearer " + bearer);
    auto res = client().Post(path.c_str(), headers, body, "application/json");
    return res ? res->status : -1;
  }
  // Sends raw bytes on a fresh connection and reads whatever comes back.
  std::string raw(const std::string& bytes) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ::shutdown(fd, SHUT_WR);
      char buffer[4096];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return reply;
  }
  // The console's count of `topic`, once it is `expected` or the deadline passed:
  // TopicInfo::messages may trail the sends by a few seconds (RabbitMQ streams).
  json messages_of(const std::string& topic, std::int64_t expected) {
    json count;
    eventually([&] {
      for (const auto& t : get("/api/topics")) {
        if (t["name"] == topic) count = t["messages"];
      }
      return count == expected;
    });
    return count;
  }
  std::int64_t lag_of(const std::string& group) {
    for (const auto& g : get("/api/groups")) {
      if (g["name"] == group) return g["total_lag"];
    }
    return -1;
  }

  TempDir dir_;
  TestEngine engine_{dir_.path()};  // after dir_: stopped before the directory goes
  std::string url_;
  int port_ = 0;
  std::unique_ptr<Background> server_;
};

TEST_F(Console, ApiShowsTopicsGroupsAndDeadLetters) {
  EXPECT_EQ(messages_of("shop.order", 4), 4);
  const json topics = get("/api/topics");
  ASSERT_EQ(topics.size(), 1u);
  EXPECT_EQ(topics[0]["name"], "shop.order");
  EXPECT_EQ(topics[0]["messages"], 4);
  EXPECT_EQ(topics[0]["partitions"], 2);
  EXPECT_TRUE(topics[0].contains("rate"));
  EXPECT_EQ(lag_of("shop.group"), 3);
  const json group = get("/api/groups/shop.group");
  EXPECT_EQ(group["total_lag"], 3);
  EXPECT_EQ(client().Get("/api/groups/none.such")->status, 404);

  const json letters = get("/api/dead-letters/bad.group");
  ASSERT_EQ(letters["dead_letters"].size(), 1u);
  const json all = get("/api/dead-letters");
  ASSERT_EQ(all["groups"].size(), 1u);
  EXPECT_EQ(all["groups"][0]["group"], "bad.group");

  auto page = client().Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("<title>mq console</title>"), std::string::npos);
  EXPECT_EQ(client().Get("/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
}

TEST_F(Console, ChangesNeedTheTokenAndWorkWithIt) {
  const std::string create = R"({"name": "shop.refund", "partitions": 3})";
  EXPECT_EQ(post("/api/topics", create, ""), 401);
  EXPECT_EQ(post("/api/topics", create, "wrong"), 401);
  EXPECT_EQ(post("/api/topics", create, token + "x"), 401);
  EXPECT_EQ(get("/api/topics").size(), 1u);
  EXPECT_EQ(post("/api/dead-letters/bad.group/replay", R"({"all": true})", ""), 401);
  EXPECT_EQ(get("/api/dead-letters/bad.group")["dead_letters"].size(), 1u);

  EXPECT_EQ(post("/api/topics", create, token), 201);
  EXPECT_EQ(post("/api/topics", create, token), 409);
  EXPECT_EQ(get("/api/topics").size(), 2u);
  httplib::Headers auth{{"Authorization", "Bearer " + token}};
  EXPECT_EQ(client().Delete("/api/topics/shop.refund")->status, 401);
  EXPECT_EQ(client().Delete("/api/topics/shop.refund", auth)->status, 200);
  EXPECT_EQ(client().Delete("/api/topics/shop.refund", auth)->status, 404);

  const std::string id = get("/api/dead-letters/bad.group")["dead_letters"][0]["id"];
  EXPECT_EQ(post("/api/dead-letters/bad.group/replay", json({{"ids", {id}}}).dump(), token), 200);
  EXPECT_EQ(get("/api/dead-letters/bad.group")["dead_letters"].size(), 0u);
  EXPECT_EQ(messages_of("shop.order", 5), 5);
  EXPECT_EQ(post("/api/dead-letters/bad.group/purge", R"({"all": true})", token), 200);
}

TEST_F(Console, MetricsInPrometheusText) {
  EXPECT_EQ(messages_of("shop.order", 4), 4);  // sampled: /metrics shows the same sample
  auto res = client().Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(res->body.find("# TYPE mqctl_topic_messages gauge\nmqctl_topic_messages{topic=\"shop.order\"} 4\n"),
            std::string::npos)
      << res->body;
  EXPECT_NE(res->body.find("mqctl_group_lag{group=\"shop.group\",topic=\"shop.order\",partition=\""), std::string::npos);
  // mq's own process metrics follow (mq::metrics::render): the console's engine is in use.
  EXPECT_NE(res->body.find("mq_queue_depth{topic=\"shop.order\"}"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("mq_connection_status{engine=\"" + TestEngine::name() + "\"} 1"), std::string::npos)
      << res->body;
}

TEST_F(Console, RemoteAddressNeedsAnExplicitFlag) {
  const auto refused = mq({"serve", "--listen", "0.0.0.0", "--port", "0"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("--allow-remote"), std::string::npos) << refused.err;
}

TEST_F(Console, GeneratedTokenIsPrintedOnce) {
  Background other(dir_.path(), {"--url", url_, "serve", "--port", "0"}, "serve-generated");
  const auto err = other.wait_for("token for changes", true);
  const auto colon = err.find("): ");
  ASSERT_NE(colon, std::string::npos) << err;
  const std::string generated = err.substr(colon + 3, 32);
  EXPECT_EQ(generated.find_first_not_of("0123456789abcdef"), std::string::npos) << generated;
  EXPECT_EQ(generated.size(), 32u);
  EXPECT_EQ(other.out().find(generated), std::string::npos);
}

TEST_F(Console, ThousandMalformedRequestsChangeNothing) {
  const json topics_before = get("/api/topics");
  const auto letters_before = get("/api/dead-letters/bad.group")["dead_letters"].size();
  const std::string huge(200'000, 'A');
  const std::vector<std::string> raw_requests = {
      "GARBAGE\r\n\r\n",
      "GET\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "\x01\x02\x03\xff\xfe\r\n\r\n",
      "GET /" + std::string(20'000, 'x') + " HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(100'000, 'h') + "\r\n\r\n",
      "POST /api/topics HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n{}",
      "POST /api/topics HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
      "POST /api/topics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n",
      "GET /../../../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /app.js/../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
      "DELETE /api/topics/shop.order HTTP/1.1\r\nHost: a\r\n\r\n",
      "DELETE /api/topics/shop.order HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \r\n\r\n",
      "DELETE /api/topics/shop.order HTTP/1.1\r\nHost: a\r\nAuthorization: Basic " + token + "\r\n\r\n",
      "POST /api/dead-letters/bad.group/purge HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n{\"all\":true}",
      "BREW /coffee HTCPCP/1.0\r\n\r\n",
      "",
  };
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"/api/topics", "{"},
      {"/api/topics", "[]"},
      {"/api/topics", "null"},
      {"/api/topics", R"({"name": 5})"},
      {"/api/topics", R"({"name": "../../etc"})"},
      {"/api/topics", R"({"name": "ok.name", "partitions": -4})"},
      {"/api/topics", R"({"name": "ok.name", "partitions": "many"})"},
      {"/api/topics", "{\"name\": \"" + std::string(300, 'n') + "\"}"},
      {"/api/topics", huge},
      {"/api/dead-letters/bad.group/replay", "{}"},
      {"/api/dead-letters/bad.group/replay", R"({"all": true, "ids": ["x"]})"},
      {"/api/dead-letters/bad.group/replay", R"({"ids": []})"},
      {"/api/dead-letters/bad.group/replay", R"({"ids": [1, 2]})"},
      {"/api/dead-letters/bad.group/purge", R"({"older_than_ms": -1})"},
      {"/api/dead-letters/bad.group/purge", "\xff\xfe"},
      {"/api/dead-letters/..%2f..%2f/purge", R"({"all": true})"},
  };
  int sent = 0, server_errors = 0, no_answer = 0;
  auto count = [&](const httplib::Result& res) {
    ++sent;
    if (!res) ++no_answer;
    else if (res->status >= 500) ++server_errors;
    else EXPECT_GE(res->status, 400) << res->status;
  };
  auto c = client();
  while (sent < 1000) {
    for (const auto& request : raw_requests) {
      raw(request);
      ++sent;
    }
    for (const auto& [path, body] : bodies) {
      // Bad tokens only: nothing here may change anything...
      count(c.Post(path.c_str(), {{"Authorization", "Bearer not-" + token}}, body, "application/json"));
      // ...and with the right token, the bodies are bad.
      if (body.size() < 1000) count(c.Post(path.c_str(), {{"Authorization", "Bearer " + token}}, body, "application/json"));
    }
    count(c.Get("/api/dead-letters/bad.group?limit=-1"));
    count(c.Get("/api/dead-letters/bad.group?limit=99999999999999999999"));
    count(c.Get("/api/groups/%00"));
    count(c.Get(("/api/groups/" + std::string(400, 'g')).c_str()));
    count(c.Get("/index.html/.."));
  }
  EXPECT_GE(sent, 1000);
  EXPECT_EQ(server_errors, 0);
  EXPECT_EQ(no_answer, 0);
  ASSERT_TRUE(server_->running());
  auto metrics = client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(get("/api/topics"), topics_before);
  EXPECT_EQ(get("/api/dead-letters/bad.group")["dead_letters"].size(), letters_before);
  EXPECT_EQ(mq({"topics", "list", "--json"}).out.find("ok.name"), std::string::npos);
}

}  // namespace
}  // namespace mqctl::test
