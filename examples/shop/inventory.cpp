// shop_inventory: group inventory.stock.group reserves stock for every order.created.
// Orders of an out-of-stock product (plan::out_of_stock) fail until the driver
// restocks (creates DIR/restocked): they are retried per the group's RetryPolicy and
// then dead-lettered; the driver replays the dead letters after restocking and they
// are reserved then. Counts each order it reserved, and any order reserved twice.
#include <map>
#include <mutex>
#include <set>

#include "plan.hpp"
#include "service.hpp"
#include "proto/shop.pb.h"

int main(int argc, char** argv) {
  shop::block_stop_signals();
  return shop::guarded("shop_inventory", [&] {
    const auto args = shop::parse_args(argc, argv, "shop_inventory");
    const auto report_path = args.dir / "inventory.report";
    const auto restocked = args.dir / "restocked";
    shop::Report report;
    std::mutex mutex;
    std::set<std::string> reserved;          // order ids
    std::map<std::string, std::int64_t> stock;  // units reserved per sku

    mq::Client client(args.url);
    auto consumer = client.consumer(
        shop::consumer_options(client, shop::groups::inventory, {"order.created"}),
        [&](const mq::Message& message) {
          shop::OrderCreated order;
          if (!order.ParseFromString(message.value)) return mq::Outcome::dead_letter("not an OrderCreated");
          if (shop::plan::out_of_stock(order.sequence()) && !std::filesystem::exists(restocked)) {
            report.add("out_of_stock_attempts");
            return mq::Outcome::retry("out of stock: " + order.sku());
          }
          std::lock_guard lock(mutex);
          if (!reserved.insert(order.order_id()).second) report.add("processed_twice");
          stock[order.sku()] += order.quantity();
          report.add("reserved");
          if (shop::plan::out_of_stock(order.sequence())) report.add("reserved_after_restock");
          return mq::Outcome::ack();
        });

    shop::serve_until_stopped(report, report_path, consumer, "consumer");
    return 0;
  });
}
