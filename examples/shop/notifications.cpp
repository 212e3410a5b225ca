// shop_notifications: group notifications.email.group; "emails" the customer on every
// order event (here: counts the emails it would send).
#include "listener.hpp"

int main(int argc, char** argv) {
  return shop::run_listener(argc, argv, "shop_notifications", shop::groups::notifications,
                            [](const shop::Event&, shop::Report& report) { report.add("emails"); });
}
