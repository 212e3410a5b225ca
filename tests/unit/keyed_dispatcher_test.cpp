#include "core/keyed_dispatcher.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace mq::core {
namespace {

Task task(std::string key, std::int64_t offset) {
  Task result;
  result.order_key = std::move(key);
  result.record.message.offset = offset;
  return result;
}

TEST(KeyedDispatcher, HoldsAKeyUntilReleased) {
  KeyedDispatcher dispatcher;
  dispatcher.push(task("a", 1));
  dispatcher.push(task("a", 2));
  dispatcher.push(task("b", 3));
  auto first = dispatcher.pop();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->record.message.offset, 1);
  auto second = dispatcher.pop();  // "a" is held: "b" comes next
  ASSERT_TRUE(second);
  EXPECT_EQ(second->record.message.offset, 3);
  EXPECT_EQ(dispatcher.runnable(), 0u);
  dispatcher.release("a");
  auto third = dispatcher.pop();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->record.message.offset, 2);
}

TEST(KeyedDispatcher, PushAllKeepsKeyOrder) {
  KeyedDispatcher dispatcher;
  std::vector<Task> tasks;
  tasks.push_back(task("a", 1));
  tasks.push_back(task("", 2));
  tasks.push_back(task("a", 3));
  dispatcher.push_all(tasks);
  EXPECT_EQ(dispatcher.runnable(), 2u);  // the second "a" waits behind the first
  auto first = dispatcher.pop();
  auto second = dispatcher.pop();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->record.message.offset, 1);
  EXPECT_EQ(second->record.message.offset, 2);
  dispatcher.release("a");
  auto third = dispatcher.pop();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->record.message.offset, 3);
}

TEST(KeyedDispatcher, RetryRunsBeforeLaterTasksOfItsKey) {
  KeyedDispatcher dispatcher;
  dispatcher.push(task("a", 1));
  auto first = dispatcher.pop();
  dispatcher.push(task("a", 2));
  dispatcher.push_front_held(std::move(*first));  // the key stays held through the retry
  auto again = dispatcher.pop();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->record.message.offset, 1);
  EXPECT_EQ(dispatcher.runnable(), 0u);
}

TEST(KeyedDispatcher, UnkeyedTasksRunInParallelAndCloseEndsPop) {
  KeyedDispatcher dispatcher;
  dispatcher.push(task("", 1));
  dispatcher.push(task("", 2));
  EXPECT_EQ(dispatcher.runnable(), 2u);
  std::thread closer([&] { dispatcher.close(); });
  EXPECT_TRUE(dispatcher.pop());
  EXPECT_TRUE(dispatcher.pop());
  closer.join();
  EXPECT_FALSE(dispatcher.pop());
  dispatcher.task_done();
  dispatcher.task_done();
  EXPECT_TRUE(dispatcher.wait_idle(std::chrono::steady_clock::now()));
}

}  // namespace
}  // namespace mq::core
