// mqctl's verbs against an empty engine per test (a fresh embedded:// directory, or a
// fresh server: TestEngine in process.hpp): exact outputs, counts and exit codes;
// --json outputs parsed and checked.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "process.hpp"

namespace mqctl::test {
namespace {

using json = nlohmann::json;

class Cli : public ::testing::Test {
 protected:
  // An empty engine per case (TestEngine): embedded:// in the case's directory, or a
  // fresh server of the case's own.
  const std::string& url() { return engine_.url(); }
  Result mq(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--url", url()});
    return run(dir_.path(), args, input);
  }
  json mq_json(std::vector<std::string> args, const std::string& input = "") {
    args.push_back("--json");
    const auto result = mq(args, input);
    EXPECT_EQ(result.code, 0) << result.err;
    return json::parse(result.out);
  }
  std::uint64_t messages_in(const std::string& topic) {
    for (const auto& t : mq_json({"topics", "list"})) {
      if (t["name"] == topic) return t["messages"];
    }
    ADD_FAILURE() << "no topic " << topic;
    return 0;
  }
  // TopicInfo::messages may trail the sends by a few seconds (RabbitMQ updates a
  // stream's count periodically): waits for `expected` with a deadline, returns the last.
  std::uint64_t messages_in(const std::string& topic, std::uint64_t expected) {
    std::uint64_t count = 0;
    eventually([&] { return (count = messages_in(topic)) == expected; });
    return count;
  }
  fs::path write(const std::string& name, const std::string& text) {
    const auto path = dir_.path() / name;
    std::ofstream(path) << text;
    return path;
  }
  TempDir dir_;
  TestEngine engine_{dir_.path()};  // after dir_: stopped before the directory goes
};

// Help and usage errors need no engine: no --url, so no server is started for them.
TEST_F(Cli, HelpEverywhereAndExitCodesDocumented) {
  auto mq = [&](const std::vector<std::string>& args) { return run(dir_.path(), args); };
  const auto top = mq({"--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("Exit codes:"), std::string::npos);
  for (const std::vector<std::string>& verb :
       {std::vector<std::string>{"topics"}, {"topics", "list"}, {"topics", "create"}, {"topics", "delete"},
        {"topics", "create-all"}, {"groups"}, {"groups", "list"}, {"groups", "describe"}, {"produce"}, {"consume"},
        {"tail"}, {"dlq"}, {"dlq", "list"}, {"dlq", "replay"}, {"dlq", "purge"}, {"bench"}, {"serve"}}) {
    auto args = verb;
    args.push_back("--help");
    const auto result = mq(args);
    EXPECT_EQ(result.code, 0) << verb.back();
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << verb.back();
  }
  EXPECT_EQ(mq({"no-such-verb"}).code, 1);
  EXPECT_EQ(mq({"topics", "create"}).code, 1);  // missing the name
}

TEST_F(Cli, TopicsCreateListDelete) {
  auto created = mq({"topics", "create", "order.created", "--partitions", "3"});
  EXPECT_EQ(created.code, 0) << created.err;
  EXPECT_EQ(created.out, "created topic order.created\n");
  EXPECT_EQ(mq({"topics", "create", "order.paid", "-p", "2", "--retention", "1d"}).code, 0);

  const auto table = mq({"topics", "list"});
  EXPECT_EQ(table.out,
            "NAME           PARTITIONS  MESSAGES\n"
            "order.created           3         0\n"
            "order.paid              2         0\n");
  const json list = mq_json({"topics", "list"});
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0], json({{"name", "order.created"}, {"partitions", 3}, {"messages", 0}}));

  EXPECT_EQ(mq({"topics", "create", "order.created"}).code, 5);  // already exists
  EXPECT_EQ(mq({"topics", "create", "bad/name"}).code, 4);       // invalid
  EXPECT_EQ(mq({"topics", "create", "mq.reserved"}).code, 4);
  EXPECT_EQ(mq({"topics", "delete", "order.paid"}).out, "deleted topic order.paid\n");
  EXPECT_EQ(mq({"topics", "delete", "order.paid"}).code, 2);  // not found
  EXPECT_EQ(mq_json({"topics", "list"}).size(), 1u);
}

TEST_F(Cli, TopicsCreateAllFromFile) {
  const auto file = write("topics.txt",
                          "# topics of the shop\n"
                          "order.created partitions=3 retention=7d\n"
                          "\n"
                          "order.paid 2\n"
                          "audit.log retention=12h  # comment\n");
  const json first = mq_json({"topics", "create-all", file.string()});
  ASSERT_EQ(first.size(), 3u);
  for (const auto& row : first) EXPECT_EQ(row["result"], "created");
  EXPECT_EQ(first[0]["partitions"], 3);
  const json second = mq_json({"topics", "create-all", file.string()});
  for (const auto& row : second) EXPECT_EQ(row["result"], "exists");
  const json list = mq_json({"topics", "list"});
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]["name"], "audit.log");
  EXPECT_EQ(list[1]["partitions"], 3);
  EXPECT_EQ(list[2]["partitions"], 2);

  // A bad line anywhere creates nothing and names the line.
  const auto bad = write("bad.txt", "new.topic 2\nother.topic partitions=zero\n");
  const auto result = mq({"topics", "create-all", bad.string()});
  EXPECT_EQ(result.code, 4);
  EXPECT_NE(result.err.find("bad.txt:2"), std::string::npos) << result.err;
  EXPECT_EQ(mq_json({"topics", "list"}).size(), 3u);
  EXPECT_EQ(mq({"topics", "create-all", (dir_.path() / "missing.txt").string()}).code, 2);

  // retention_bytes: an engine that cannot trim by bytes (Redis streams) refuses the
  // topic with not_supported (6), naming it; the others create it.
  const auto sized = mq({"topics", "create-all", write("sized.txt", "sized.log retention_bytes=1000000\n").string()});
  if (sized.code == 6) {
    EXPECT_NE(sized.err.find("'sized.log'"), std::string::npos) << sized.err;
    EXPECT_EQ(mq_json({"topics", "list"}).size(), 3u);
  } else {
    EXPECT_EQ(sized.code, 0) << sized.err;
    EXPECT_EQ(mq_json({"topics", "list"}).size(), 4u);
  }
}

TEST_F(Cli, ProduceFromArgumentsStdinAndFile) {
  ASSERT_EQ(mq({"topics", "create", "events", "-p", "2"}).code, 0);
  const json receipts = mq_json({"produce", "events", "a", "b", "c", "--key", "k1", "-H", "source=test"});
  EXPECT_EQ(receipts["produced"], 3);
  ASSERT_EQ(receipts["receipts"].size(), 3u);
  // Same key: same partition, consecutive offsets (an engine without offsets,
  // capabilities().offsets false, reports -1 for each).
  EXPECT_EQ(receipts["receipts"][0]["partition"], receipts["receipts"][2]["partition"]);
  const auto first_offset = receipts["receipts"][0]["offset"].get<int>();
  EXPECT_EQ(receipts["receipts"][1]["offset"].get<int>(), first_offset < 0 ? -1 : first_offset + 1);

  std::string lines;
  for (int i = 0; i < 10; ++i) lines += "line" + std::to_string(i) + "\n";
  const auto from_stdin = mq({"produce", "events"}, lines);
  EXPECT_EQ(from_stdin.code, 0);
  EXPECT_NE(from_stdin.err.find("produced 10 messages to events"), std::string::npos) << from_stdin.err;
  const auto file = write("values.txt", "f1\nf2\nf3\nf4\nf5\n");
  EXPECT_EQ(mq_json({"produce", "events", "--file", file.string()})["produced"], 5);
  EXPECT_EQ(messages_in("events", 18), 18u);

  const json delayed = mq_json({"produce", "events", "later", "--delay", "1s"});
  EXPECT_TRUE(delayed["receipts"][0].contains("due"));

  EXPECT_EQ(mq({"produce", "events", "x", "--header", "novalue"}).code, 1);
  EXPECT_EQ(mq({"produce", "events", "--file", (dir_.path() / "none").string()}).code, 2);
  EXPECT_EQ(mq({"produce", "events", "x", "--delay", "soon"}).code, 1);
}

TEST_F(Cli, ConsumeWithGroupPrintsAndCommits) {
  ASSERT_EQ(mq({"produce", "orders", "-k", "o1", "-H", "h=v", "one", "two", "three"}).code, 0);
  const auto table = mq({"consume", "orders", "-g", "billing.charge.group", "--from", "earliest", "--max", "3"});
  EXPECT_EQ(table.code, 0) << table.err;
  std::vector<std::string> values;
  std::istringstream lines(table.out);
  for (std::string line; std::getline(lines, line);) values.push_back(line.substr(line.rfind('\t') + 1));
  EXPECT_EQ(values, (std::vector<std::string>{"one", "two", "three"}));  // one key: in order

  ASSERT_EQ(mq({"produce", "orders", "-k", "o1", "-H", "h=v", "four"}).code, 0);
  const auto next = mq({"consume", "orders", "-g", "billing.charge.group", "--max", "1", "--json"});
  ASSERT_EQ(next.code, 0) << next.err;
  const json message = json::parse(next.out);
  EXPECT_EQ(message["value"], "four");
  EXPECT_EQ(message["key"], "o1");
  EXPECT_EQ(message["topic"], "orders");
  EXPECT_FALSE(message["id"].get<std::string>().empty());
  EXPECT_NE(message["headers"].dump().find("[\"h\",\"v\"]"), std::string::npos) << message["headers"].dump();

  // Nothing new: an idle timeout ends it with nothing printed.
  const auto idle = mq({"consume", "orders", "-g", "billing.charge.group", "--timeout", "500ms"});
  EXPECT_EQ(idle.code, 0);
  EXPECT_EQ(idle.out, "");
}

TEST_F(Cli, GroupsListAndDescribeShowLagPerPartition) {
  ASSERT_EQ(mq({"topics", "create", "jobs", "-p", "2"}).code, 0);
  std::string lines;
  for (int i = 0; i < 10; ++i) lines += "job" + std::to_string(i) + "\n";
  ASSERT_EQ(mq({"produce", "jobs"}, lines).code, 0);
  ASSERT_EQ(mq({"consume", "jobs", "-g", "worker.group", "--from", "earliest", "--max", "4"}).code, 0);

  const json described = mq_json({"groups", "describe", "worker.group"});
  EXPECT_EQ(described["name"], "worker.group");
  EXPECT_EQ(described["total_lag"], 6);
  std::int64_t ends = 0, lag = 0;
  for (const auto& p : described["partitions"]) {
    EXPECT_EQ(p["topic"], "jobs");
    EXPECT_EQ(p["lag"].get<std::int64_t>(), p["end"].get<std::int64_t>() - p["committed"].get<std::int64_t>());
    ends += p["end"].get<std::int64_t>();
    lag += p["lag"].get<std::int64_t>();
  }
  EXPECT_EQ(ends, 10);
  EXPECT_EQ(lag, 6);
  const auto table = mq({"groups", "describe", "worker.group"});
  EXPECT_EQ(table.out.rfind("group worker.group: total lag 6\nTOPIC  PARTITION  COMMITTED  END  LAG\n", 0), 0u)
      << table.out;

  const json groups = mq_json({"groups", "list"});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0]["name"], "worker.group");
  EXPECT_EQ(groups[0]["total_lag"], 6);
  EXPECT_EQ(mq({"groups", "describe", "no.such.group"}).code, 2);
}

TEST_F(Cli, TailFollowsOnlyNewMessagesWithoutCommittingForOthers) {
  ASSERT_EQ(mq({"produce", "feed", "old1", "old2"}).code, 0);
  Background tail(dir_.path(), {"--url", url(), "tail", "feed", "--max", "2"}, "tail");
  tail.wait_for("tailing as group mqctl.tail.", true);
  // The tail joins asynchronously: send until it has printed two new messages.
  std::set<std::string> sent;
  for (int i = 0; tail.running() && i < 200; ++i) {
    const std::string value = "new" + std::to_string(i);
    ASSERT_EQ(mq({"produce", "feed", value}).code, 0);
    sent.insert(value);
    eventually([&] { return !tail.running(); }, std::chrono::milliseconds(200));
  }
  EXPECT_EQ(tail.stop(), 0);
  std::istringstream lines(tail.out());
  int printed = 0;
  for (std::string line; std::getline(lines, line); ++printed) {
    const auto value = line.substr(line.rfind('\t') + 1);
    EXPECT_TRUE(sent.count(value)) << "tail printed an old message: " << value;
  }
  EXPECT_EQ(printed, 2);
  // An application group still sees everything.
  const auto all = mq({"consume", "feed", "-g", "app.group", "--from", "earliest", "--timeout", "1s"});
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), static_cast<long>(2 + sent.size()));
}

TEST_F(Cli, DeadLettersListReplayPurge) {
  ASSERT_EQ(mq({"produce", "payments", "p1", "p2", "p3"}).code, 0);
  const auto rejected = mq({"consume", "payments", "-g", "pay.group", "--from", "earliest", "--max", "3", "--reject"});
  ASSERT_EQ(rejected.code, 0) << rejected.err;
  json letters;
  ASSERT_TRUE(eventually([&] {
    letters = mq_json({"dlq", "list", "pay.group"});
    return letters.size() == 3;
  })) << letters.dump();
  std::set<std::string> values;
  for (const auto& l : letters) {
    values.insert(l["value"]);
    EXPECT_EQ(l["original_topic"], "payments");
    EXPECT_NE(l["error"].get<std::string>().find("--reject"), std::string::npos);
  }
  EXPECT_EQ(values, (std::set<std::string>{"p1", "p2", "p3"}));
  const auto table = mq({"dlq", "list", "pay.group"});
  EXPECT_EQ(table.out.rfind("ID", 0), 0u);
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 4);

  const std::string first = letters[0]["id"];
  const auto replayed = mq({"dlq", "replay", "pay.group", "--id", first});
  EXPECT_EQ(replayed.code, 0) << replayed.err;
  EXPECT_EQ(replayed.out, "replayed 1 dead letter of group pay.group\n");
  EXPECT_EQ(messages_in("payments", 4), 4u);
  EXPECT_EQ(mq_json({"dlq", "list", "pay.group"}).size(), 2u);
  // The replayed message keeps its id and reaches the group again.
  const json again = json::parse(mq({"consume", "payments", "-g", "pay.group", "--max", "1", "--json"}).out);
  EXPECT_EQ(again["id"], first);

  EXPECT_EQ(mq({"dlq", "replay", "pay.group"}).code, 1);                      // no selection
  EXPECT_EQ(mq({"dlq", "replay", "pay.group", "--all", "--id", "x"}).code, 1);  // two selections
  EXPECT_EQ(mq({"dlq", "replay", "pay.group", "--id", "no-such-id"}).code, 2);
  const json purged = mq_json({"dlq", "purge", "pay.group", "--all"});
  EXPECT_EQ(purged["purged"], 2);
  EXPECT_EQ(mq_json({"dlq", "list", "pay.group"}).size(), 0u);
  EXPECT_EQ(messages_in("payments", 4), 4u);
}

TEST_F(Cli, BenchReportsBothPhasesAndCleansUp) {
  const json result = mq_json({"bench", "--messages", "500", "--size", "64", "--partitions", "2"});
  EXPECT_EQ(result["produce"]["messages"], 500);
  EXPECT_EQ(result["consume"]["messages"], 500);
  EXPECT_EQ(result["failed"], 0);
  EXPECT_GT(result["produce"]["messages_per_second"].get<double>(), 0);
  EXPECT_EQ(mq_json({"topics", "list"}).size(), 0u);  // the scratch topic is gone

  const auto table = mq({"bench", "--messages", "200"});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("PHASE    MESSAGES"), std::string::npos) << table.out;
  EXPECT_NE(table.err.find("produce"), std::string::npos);  // the progress line
}

TEST_F(Cli, CredentialsNeverPrinted) {
  for (const char* secret_url :
       {"redis://app:hunter2secret@127.0.0.1:1/", "amqp://app:hunter2secret@127.0.0.1:1/",
        "kafka://127.0.0.1:1?sasl.password=hunter2secret"}) {
    for (const std::vector<std::string>& verb : {std::vector<std::string>{"topics", "list"}, {"produce", "t", "v"}}) {
      auto args = verb;
      args.insert(args.begin(), {"--url", secret_url});
      const auto result = run(dir_.path(), args);
      EXPECT_NE(result.code, 0);
      EXPECT_EQ(result.out.find("hunter2secret"), std::string::npos) << result.out;
      EXPECT_EQ(result.err.find("hunter2secret"), std::string::npos) << result.err;
    }
  }
}

}  // namespace
}  // namespace mqctl::test
