#include <gtest/gtest.h>

#include "core/engine_registry.hpp"
#include "mq/client.hpp"

namespace mq::core {
namespace {

TEST(Url, ParsesAuthorityHostsPathAndQuery) {
  const auto url = parse_url("redis://app:p%40ss@host1:6379,host2/3?timeout=5s&password=x");
  EXPECT_EQ(url.scheme, "redis");
  EXPECT_EQ(url.user, "app");
  EXPECT_EQ(url.password, "p@ss");
  ASSERT_EQ(url.hosts.size(), 2u);
  EXPECT_EQ(url.hosts[0], (std::pair<std::string, int>{"host1", 6379}));
  EXPECT_EQ(url.hosts[1], (std::pair<std::string, int>{"host2", 0}));
  EXPECT_EQ(url.path, "3");
  EXPECT_EQ(url.query.at("timeout"), "5s");
  EXPECT_EQ(url.redacted.find("p%40ss"), std::string::npos);
  EXPECT_EQ(url.redacted, "redis://app:***@host1:6379,host2/3?timeout=5s&password=***");
}

TEST(Url, EmbeddedTakesEverythingAsPath) {
  EXPECT_EQ(parse_url("embedded://./mq-data").path, "./mq-data");
  EXPECT_EQ(parse_url("embedded:///var/lib/mq").path, "/var/lib/mq");
  EXPECT_EQ(parse_url("memory://").path, "");
  EXPECT_EQ(parse_url("kafka://[::1]:9092").hosts[0], (std::pair<std::string, int>{"::1", 9092}));
}

TEST(Url, BadUrlsAreClearErrorsWithoutSecrets) {
  for (const char* text : {"nothing", "redis://", "redis://host:notaport", "redis://host:70000", "amqp://u:pw@[::1"}) {
    try {
      parse_url(text);
      ADD_FAILURE() << text << " parsed";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::invalid_argument) << text;
      EXPECT_NE(std::string(error.what()).find("invalid URL"), std::string::npos) << error.what();
      EXPECT_EQ(std::string(error.what()).find(":pw@"), std::string::npos) << error.what();
    }
  }
}

TEST(Url, UnknownSchemeListsTheKnownOnes) {
  try {
    Client client("foo://x:secret@host");
    FAIL();
  } catch (const Error& error) {
    const std::string what = error.what();
    EXPECT_EQ(error.code(), ErrorCode::invalid_argument);
    EXPECT_NE(what.find("unknown URL scheme 'foo'"), std::string::npos) << what;
    EXPECT_NE(what.find("embedded, memory, redis"), std::string::npos) << what;
    EXPECT_EQ(what.find("secret"), std::string::npos) << what;
  }
  try {
    Client client("nsq://localhost:4150");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::not_supported) << error.what();
  }
}

}  // namespace
}  // namespace mq::core
