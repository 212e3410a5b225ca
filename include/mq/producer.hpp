// Producer: sends messages to topics.
//
// Thread-safe: one producer may be shared by any number of threads. Move-only. The
// destructor calls close(), which drains pending async sends for at most
// ProducerOptions::close_timeout.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "mq/error.hpp"
#include "mq/message.hpp"
#include "mq/options.hpp"

namespace mq {

namespace core {
class ProducerImpl;
}

// Called once per send_async, from an mq thread (never from inside send_async).
// On failure the receipt holds only the topic and id.
using SendCallback = std::function<void(const Status&, const Receipt&)>;

class Producer {
 public:
  Producer(Producer&&) noexcept;
  Producer& operator=(Producer&&) noexcept;
  ~Producer();

  // Blocks until the engine acknowledged the message per ProducerOptions::acks, and
  // returns where it was stored. Throws mq::Error on an invalid message or a failure.
  Receipt send(Message message);
  Receipt send(std::string topic, std::string value) {
    return send(Message(std::move(topic), std::move(value)));
  }
  Receipt send(std::string topic, std::string key, std::string value) {
    return send(Message(std::move(topic), std::move(key), std::move(value)));
  }

  // Queues the message and returns at once; `callback` (may be empty) reports the
  // outcome. Invalid messages and a full buffer throw here, before anything is queued.
  void send_async(Message message, SendCallback callback = {});

  // Sends all messages together (one engine round trip where the engine allows).
  // Validates every message first: if one is invalid nothing is sent. Throws on failure;
  // on an engine failure part of the batch may have been stored (at-least-once: retry).
  std::vector<Receipt> send_batch(std::vector<Message> messages);

  // Delayed delivery: consumers see the message no earlier than the due time. Durable
  // where the engine is. Returns once the message is stored (not when it is delivered).
  Receipt send_after(Message message, std::chrono::milliseconds delay);
  Receipt send_at(Message message, TimePoint due);

  // Waits until every send_async queued so far has had its callback. Returns false if
  // `timeout` passed first.
  bool flush(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  // Drains pending sends (ProducerOptions::close_timeout), then refuses further sends
  // with ErrorCode::closed. Idempotent.
  void close();

  const ProducerOptions& options() const;

 private:
  friend class Client;
  explicit Producer(std::shared_ptr<core::ProducerImpl> impl);
  std::shared_ptr<core::ProducerImpl> impl_;
};

}  // namespace mq
