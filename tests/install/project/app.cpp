// Built against an installed mq: sends one message on memory:// and receives it.
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>

#include <mq/mq.hpp>

int main() {
  mq::Client client("memory://install-check");
  std::mutex mutex;
  std::condition_variable received;
  std::string got;
  mq::ConsumerOptions options;
  options.group = "install.check.group";
  options.topics = {"install.check"};
  options.start = mq::StartPosition::earliest;
  auto consumer = client.consumer(options, [&](const mq::Message& message) {
    std::lock_guard lock(mutex);
    got = message.value;
    received.notify_all();
    return mq::Outcome::ack();
  });
  client.producer().send("install.check", "hello from an installed mq");
  std::unique_lock lock(mutex);
  if (!received.wait_for(lock, std::chrono::seconds(10), [&] { return !got.empty(); })) {
    std::cerr << "app: no message within 10 s\n";
    return 1;
  }
  std::cout << "app received: " << got << '\n';
  return 0;
}
