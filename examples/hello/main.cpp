// mq_hello: one producer, two groups that each get every order (broadcast), and one
// group of two members that share the orders between them.
//
//   mq_hello [--url URL]     default: embedded:// in a fresh temp dir, or memory://
//
// Exits 0 when every group saw each order exactly once, 1 otherwise.
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include <mq/mq.hpp>

namespace {

constexpr int order_count = 20;
constexpr const char* topic = "order.created";

// Everything the consumers saw, guarded by one mutex (handlers run on worker threads).
struct Ledger {
  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, std::set<std::string>> ids_by_group;  // distinct order ids
  std::map<std::string, int> deliveries_by_member;

  mq::Handler handler(const std::string& group, const std::string& member, const std::string& run) {
    return [this, group, member, run](const mq::Message& message) {
      // A reused --url may hold orders of earlier runs: count only this run's.
      if (message.headers.find("hello-run") != run) return mq::Outcome::ack();
      {
        std::lock_guard lock(mutex);
        std::cout << "  " << member << " <- " << message.key.value_or("") << " (partition " << message.partition
                  << ", offset " << message.offset << "): " << message.value << '\n';
        ids_by_group[group].insert(message.id);
        ++deliveries_by_member[member];
      }
      changed.notify_all();
      return mq::Outcome::ack();
    };
  }

  bool complete(const std::vector<std::string>& groups) {
    for (const auto& group : groups) {
      if (ids_by_group[group].size() < order_count) return false;
    }
    return true;
  }
};

// embedded:// when this build has it, else memory:// (the engine of unit tests).
std::string default_url() {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mq-hello-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  const std::string embedded = "embedded://" + dir.string();
  try {
    mq::Client probe(embedded);
    return embedded;
  } catch (const mq::Error& error) {
    if (error.code() != mq::ErrorCode::not_supported) throw;
    return "memory://hello";
  }
}

}  // namespace

int main(int argc, char** argv) try {
  std::string url;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--url" && i + 1 < argc) {
      url = argv[++i];
    } else {
      std::cerr << "usage: mq_hello [--url URL]\n";
      return 2;
    }
  }
  if (url.empty()) url = default_url();

  mq::Client client(url);
  std::cout << "mq_hello on " << client.url() << " (engine: " << client.capabilities().engine << ")\n";
  const std::string run = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());

  // Start from the earliest message so that no order slips past a consumer that is
  // still joining its group when the producer starts.
  Ledger ledger;
  auto options = [&](const std::string& group) {
    mq::ConsumerOptions consumer_options = client.config().consumer;
    consumer_options.group = group;
    consumer_options.topics = {"order.*"};
    consumer_options.start = mq::StartPosition::earliest;
    return consumer_options;
  };
  const std::vector<std::string> groups = {"billing.charge.group", "shipping.pack.group", "audit.log.group"};
  auto billing = client.consumer(options(groups[0]), ledger.handler(groups[0], "billing", run));
  auto shipping = client.consumer(options(groups[1]), ledger.handler(groups[1], "shipping", run));
  auto audit_a = client.consumer(options(groups[2]), ledger.handler(groups[2], "audit-a", run));
  auto audit_b = client.consumer(options(groups[2]), ledger.handler(groups[2], "audit-b", run));

  auto producer = client.producer();
  for (int i = 1; i <= order_count; ++i) {
    // Five customers: each customer's orders share a key, so they stay in order.
    mq::Message order(topic, "customer-" + std::to_string(i % 5 + 1),
                      "{\"order\": " + std::to_string(i) + ", \"amount\": " + std::to_string(i * 10) + "}");
    order.headers.add("hello-run", run);
    producer.send(std::move(order));
  }
  std::cout << "producer -> sent " << order_count << " orders to " << topic << '\n';

  {
    std::unique_lock lock(ledger.mutex);
    ledger.changed.wait_for(lock, std::chrono::seconds(20), [&] { return ledger.complete(groups); });
  }
  for (auto* consumer : {&billing, &shipping, &audit_a, &audit_b}) consumer->stop(std::chrono::seconds(5));

  std::lock_guard lock(ledger.mutex);
  auto& seen = ledger.ids_by_group;
  auto& by_member = ledger.deliveries_by_member;
  std::cout << "counts: sent " << order_count << ", billing " << seen[groups[0]].size() << ", shipping "
            << seen[groups[1]].size() << ", audit " << seen[groups[2]].size() << " (audit-a " << by_member["audit-a"]
            << " + audit-b " << by_member["audit-b"] << ")\n";
  // Broadcast: each group saw every order. Sharing: the two audit members together saw
  // each order once (at-least-once allows a redelivery only across a failure, none here).
  const bool ok = ledger.complete(groups) && by_member["billing"] == order_count &&
                  by_member["shipping"] == order_count && by_member["audit-a"] + by_member["audit-b"] == order_count;
  std::cout << (ok ? "ok" : "FAILED: a count is off") << '\n';
  return ok ? 0 : 1;
} catch (const mq::Error& error) {
  std::cerr << "mq_hello: " << error.what() << '\n';
  return 1;
}
