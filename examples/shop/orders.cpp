// shop_orders: the order service. Publishes order.created / order.paid keyed by order
// id (Protocol Buffers), one trace per order, and schedules a payment check per order
// with send_after; its own group (orders.payment-timeout.group) handles the checks and
// publishes order.cancelled for orders still unpaid. Some order.created events are
// published twice with the same message id (plan::sent_twice) to exercise dedup.
#include <cstdio>
#include <mutex>
#include <set>

#include "plan.hpp"
#include "service.hpp"
#include "proto/shop.pb.h"

namespace {

std::string order_id(std::uint64_t sequence) {
  char text[32];
  std::snprintf(text, sizeof text, "order-%06llu", static_cast<unsigned long long>(sequence));
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  shop::block_stop_signals();
  return shop::guarded("shop_orders", [&] {
    const auto args = shop::parse_args(argc, argv, "shop_orders");
    const auto report_path = args.dir / "orders.report";
    shop::Report report;
    mq::Client client(args.url);
    auto producer = client.producer();

    // Paid orders, written before their check is scheduled, read by check handlers.
    std::mutex mutex;
    std::set<std::string> paid;
    auto checks = client.consumer(
        shop::consumer_options(client, shop::groups::payment_checks, {"payment.timeout"}),
        [&](const mq::Message& message) {
          shop::PaymentCheck check;
          if (!check.ParseFromString(message.value)) return mq::Outcome::dead_letter("not a PaymentCheck");
          report.add("checks_handled");
          {
            std::lock_guard lock(mutex);
            if (paid.contains(check.order_id())) return mq::Outcome::ack();
          }
          shop::OrderCancelled cancelled;
          cancelled.set_order_id(check.order_id());
          cancelled.set_sequence(check.sequence());
          cancelled.set_reason("payment timeout");
          cancelled.set_cancelled_at_ms(shop::now_ms());
          // Inside the handler: the cancellation continues the order's trace.
          producer.send("order.cancelled", check.order_id(), cancelled.SerializeAsString());
          report.add("cancelled");
          return mq::Outcome::ack();
        });

    // Stops publishing early when the driver stops the run (Ctrl-C).
    std::uint64_t sequence = 1;
    for (; sequence <= args.orders && !shop::stop_requested(); ++sequence) {
      const auto id = order_id(sequence);
      mq::trace::Scope trace(mq::trace::Context::new_trace());  // one trace per request
      shop::OrderCreated created;
      created.set_order_id(id);
      created.set_sequence(sequence);
      created.set_customer_id("customer-" + std::to_string(sequence % 97));
      created.set_sku("sku-" + std::to_string(sequence % 13));
      created.set_quantity(1 + sequence % 3);
      created.set_amount_cents(500 + (sequence % 50) * 100);
      created.set_created_at_ms(shop::now_ms());
      mq::Message message("order.created", id, created.SerializeAsString());
      const auto receipt = producer.send(message);
      report.add("created");
      if (shop::plan::sent_twice(sequence)) {
        message.id = receipt.id;  // the same message id: a retried publish, not a new order
        producer.send(std::move(message));
        report.add("created_resent");
      }
      if (!shop::plan::unpaid(sequence)) {
        shop::OrderPaid payment;
        payment.set_order_id(id);
        payment.set_sequence(sequence);
        payment.set_amount_cents(created.amount_cents());
        payment.set_paid_at_ms(shop::now_ms());
        {
          std::lock_guard lock(mutex);
          paid.insert(id);
        }
        producer.send("order.paid", id, payment.SerializeAsString());
        report.add("paid");
      }
      shop::PaymentCheck check;
      check.set_order_id(id);
      check.set_sequence(sequence);
      producer.send_after(mq::Message("payment.timeout", id, check.SerializeAsString()), args.payment_timeout);
      report.add("checks_scheduled");
      if (sequence % 100 == 0) report.write(report_path);  // progress for the driver
    }
    if (sequence > args.orders) report.set("published_all", 1);

    shop::serve_until_stopped(report, report_path, checks, "checks");
    return 0;
  });
}
