#include "listener.hpp"

#include <mutex>
#include <set>

#include "proto/shop.pb.h"

namespace shop {

namespace {

// Decodes one event; false for a topic or payload this service does not understand.
bool decode(const mq::Message& message, Event& event, std::int64_t& created_at_ms) {
  event.topic = message.topic;
  if (message.topic == "order.created") {
    OrderCreated created;
    if (!created.ParseFromString(message.value)) return false;
    event.order_id = created.order_id();
    event.amount_cents = created.amount_cents();
    created_at_ms = created.created_at_ms();
    return true;
  }
  if (message.topic == "order.paid") {
    OrderPaid paid;
    if (!paid.ParseFromString(message.value)) return false;
    event.order_id = paid.order_id();
    event.amount_cents = paid.amount_cents();
    return true;
  }
  if (message.topic == "order.cancelled") {
    OrderCancelled cancelled;
    if (!cancelled.ParseFromString(message.value)) return false;
    event.order_id = cancelled.order_id();
    return true;
  }
  return false;
}

}  // namespace

int run_listener(int argc, char** argv, const char* program, const std::string& group,
                 const std::function<void(const Event&, Report&)>& on_event) {
  block_stop_signals();
  return guarded(program, [&] {
    const auto args = parse_args(argc, argv, program);
    const auto report_path = args.dir / (std::string(program).substr(5) + ".report");  // "shop_"
    Report report;
    std::mutex mutex;
    std::set<std::string> handled;  // message ids: a second handling is double processing

    mq::Client client(args.url);
    auto consumer = client.consumer(consumer_options(client, group, {"order.*"}), [&](const mq::Message& message) {
      Event event;
      std::int64_t created_at_ms = 0;
      if (!decode(message, event, created_at_ms)) return mq::Outcome::dead_letter("unknown event");
      {
        std::lock_guard lock(mutex);
        if (!handled.insert(message.id).second) report.add("processed_twice");
      }
      report.add(message.topic.substr(6));  // "order."
      report.add("handled");
      if (created_at_ms > 0) report.sample("latency_ms", now_ms() - created_at_ms);
      on_event(event, report);
      return mq::Outcome::ack();
    });

    serve_until_stopped(report, report_path, consumer, "consumer");
    return 0;
  });
}

}  // namespace shop
