// The demo's plan: which orders fail on purpose, stay unpaid or are published twice,
// as pure functions of the order's sequence number (1..N). The services apply it and
// the driver derives the exact expected counts from it. The three sets never overlap,
// so every expected count is a simple sum.
#pragma once
#include <cstdint>

namespace shop::plan {

// Out of stock until the driver "restocks": retried, then dead-lettered, then replayed.
inline bool out_of_stock(std::uint64_t sequence) { return sequence % 100 == 50; }
// Never paid: the delayed payment check cancels it.
inline bool unpaid(std::uint64_t sequence) { return sequence % 10 == 3; }
// order.created published a second time with the same message id (a producer retry
// after a lost acknowledgement): consumers' dedup must drop it.
inline bool sent_twice(std::uint64_t sequence) { return sequence % 25 == 1; }

struct Expected {
  std::uint64_t orders = 0, out_of_stock = 0, unpaid = 0, sent_twice = 0;
};

inline Expected expected(std::uint64_t orders) {
  Expected e{orders, 0, 0, 0};
  for (std::uint64_t s = 1; s <= orders; ++s) {
    e.out_of_stock += out_of_stock(s);
    e.unpaid += unpaid(s);
    e.sent_twice += sent_twice(s);
  }
  return e;
}

}  // namespace shop::plan
