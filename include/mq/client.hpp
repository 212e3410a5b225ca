// Client: the entry point. Picks the engine from the URL and makes producers,
// consumers and admins that share one engine connection.
//
//   mq::Client client("embedded://./mq-data");
//   auto producer = client.producer();
//   producer.send("order.created", order_id, payload);
//   auto consumer = client.consumer({.group = "billing.charge.group",
//                                    .topics = {"order.*"}},
//                                   [](const mq::Message& m) { return mq::Outcome::ack(); });
//
// Thread-safe. Move-only. Producers and consumers keep the engine alive: they may
// outlive the Client that made them.
#pragma once

#include <memory>
#include <string>

#include "mq/admin.hpp"
#include "mq/capabilities.hpp"
#include "mq/config.hpp"
#include "mq/consumer.hpp"
#include "mq/producer.hpp"

namespace mq {

class Client {
 public:
  // Connects to config.url.
  explicit Client(Config config = Config::defaults("development"));
  // Connects to `url`, with the rest of `config`.
  explicit Client(const std::string& url, Config config = Config::defaults("development"));
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  Producer producer();  // with config().producer
  Producer producer(ProducerOptions options);
  // Starts a consumer at once. options.group and options.topics are required.
  Consumer consumer(ConsumerOptions options, Handler handler);
  // config().consumer with this group and topics.
  Consumer consumer(std::string group, std::vector<std::string> topics, Handler handler);
  // A consumer whose handler takes batches (BatchOptions in mq/consumer.hpp).
  Consumer batch_consumer(ConsumerOptions options, BatchOptions batch, BatchHandler handler);
  Admin admin();

  const Config& config() const;
  const Capabilities& capabilities() const;
  // The URL with credentials redacted.
  std::string url() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mq
