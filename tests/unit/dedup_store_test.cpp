#include "core/dedup_store.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace mq::core {
namespace {

using namespace std::chrono_literals;
using Claim = DedupStore::Claim;

TEST(InProcessDedupStore, ClaimCompleteReleaseAndExpiry) {
  InProcessDedupStore store(100);
  EXPECT_EQ(store.claim("g", "a", 10s), Claim::acquired);
  EXPECT_EQ(store.claim("g", "a", 10s), Claim::busy);        // another member is on it
  EXPECT_EQ(store.claim("other", "a", 10s), Claim::acquired);  // per group
  store.release("g", "a");
  EXPECT_EQ(store.claim("g", "a", 10s), Claim::acquired);  // a failure frees it for a retry
  store.complete("g", "a", 10s);
  EXPECT_EQ(store.claim("g", "a", 10s), Claim::done);
  store.release("g", "a");  // a release never undoes a completion
  EXPECT_EQ(store.claim("g", "a", 10s), Claim::done);

  EXPECT_EQ(store.claim("g", "short", 1ms), Claim::acquired);
  std::this_thread::sleep_for(5ms);  // the lease must run out: time is the subject here
  EXPECT_EQ(store.claim("g", "short", 10s), Claim::acquired) << "an expired lease still blocked";
  store.complete("g", "short", 1ms);
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(store.claim("g", "short", 10s), Claim::acquired) << "a completion outlived its window";
}

TEST(InProcessDedupStore, ForgetsOldestPastItsBound) {
  InProcessDedupStore store(3);
  for (const auto* id : {"1", "2", "3", "4"}) {
    ASSERT_EQ(store.claim("g", id, 10s), Claim::acquired);
    store.complete("g", id, 10s);
  }
  EXPECT_EQ(store.claim("g", "1", 10s), Claim::acquired) << "the oldest entry was kept past the bound";
  EXPECT_EQ(store.claim("g", "4", 10s), Claim::done);
  EXPECT_EQ(store.claim("g", "3", 10s), Claim::done);
}

TEST(InProcessDedupStore, ShardedStoreKeepsEveryId) {
  InProcessDedupStore store(1'000'000);  // large: split into shards by id
  for (int i = 0; i < 2000; ++i) {
    const auto id = std::to_string(i);
    ASSERT_EQ(store.claim("g", id, 10s), Claim::acquired);
    if (i % 2 == 0) store.complete("g", id, 10s);
    else store.release("g", id);
  }
  for (int i = 0; i < 2000; ++i) {
    const auto id = std::to_string(i);
    EXPECT_EQ(store.claim("g", id, 10s), i % 2 == 0 ? Claim::done : Claim::acquired) << id;
  }
}

}  // namespace
}  // namespace mq::core
