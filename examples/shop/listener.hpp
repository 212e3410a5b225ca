// The body of the notification and analytics services: a group of its own on order.*
// (so each sees every event), decoding each event and counting it. `on_event` lets the
// service do its own work; the counts are the driver's check for loss and double
// processing: every event id handled once per group.
#pragma once
#include <functional>

#include "service.hpp"

namespace shop {

struct Event {
  std::string topic;
  std::string order_id;
  std::uint64_t amount_cents = 0;  // created and paid events
};

int run_listener(int argc, char** argv, const char* program, const std::string& group,
                 const std::function<void(const Event&, Report&)>& on_event);

}  // namespace shop
