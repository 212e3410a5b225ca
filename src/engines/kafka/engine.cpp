#include "engines/kafka/engine.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <optional>

#include "core/logging.hpp"
#include "mq/names.hpp"

namespace mq::engines::kafka {
namespace {

// One append() call: results fill in as delivery reports arrive (on the producer's
// poll thread, or on the caller's thread for messages librdkafka refused outright);
// the last one to finish calls `done`, exactly once, and deletes the batch. One
// allocation per call: message i's opaque is &slots[i], which points back here.
struct PendingBatch {
  std::vector<core::AppendResult> results;
  std::vector<PendingBatch*> slots;
  std::atomic<std::size_t> remaining{0};
  core::AppendCallback done;

  void finish_one() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    auto callback = std::move(done);
    auto out = std::move(results);
    delete this;
    callback(std::move(out));
  }
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  auto* const* slot = static_cast<PendingBatch* const*>(message->_private);
  PendingBatch* batch = *slot;
  auto& result = batch->results[static_cast<std::size_t>(slot - batch->slots.data())];
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result.status = status_for(message->err, fmt::format("send to '{}'", result.receipt.topic));
  } else {
    result.receipt.partition = message->partition;
    result.receipt.offset = message->offset;  // -1 with acks none
  }
  batch->finish_one();
}

std::int64_t millis_since_epoch(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace

ProducerHandle::ProducerHandle(const EngineSettings& settings, Acks acks) {
  handle_ = make_handle(RD_KAFKA_PRODUCER, producer_properties(settings, acks),
                        [](rd_kafka_conf_t* conf) { rd_kafka_conf_set_dr_msg_cb(conf, on_delivery); },
                        settings.redacted_url);
  // Delivery reports are served here; the wait returns as soon as one is ready.
  poller_ = std::thread([this] {
    while (!stopping_.load(std::memory_order_acquire)) rd_kafka_poll(handle_.get(), 100);
  });
}

ProducerHandle::~ProducerHandle() {
  stopping_ = true;
  poller_.join();
  // Whatever is still queued fails with a purge error through its report, so every
  // append() still gets its callback.
  rd_kafka_purge(handle_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_flush(handle_.get(), 1000);
  rd_kafka_poll(handle_.get(), 0);
  for (auto& [name, topic] : topics_) rd_kafka_topic_destroy(topic);  // before the handle goes
}

rd_kafka_topic_t* ProducerHandle::topic(const std::string& name) {
  std::lock_guard lock(topics_mutex_);
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second;
  // No topic configuration of its own: the producer's defaults (partitioner,
  // message.timeout.ms) apply, as they do to a send by topic name.
  rd_kafka_topic_t* topic = rd_kafka_topic_new(handle_.get(), name.c_str(), nullptr);
  if (topic) topics_.emplace(name, topic);
  return topic;  // null: rd_kafka_last_error() says why
}

void ProducerHandle::flush(milliseconds timeout) { rd_kafka_flush(handle_.get(), static_cast<int>(timeout.count())); }

KafkaEngine::KafkaEngine(EngineSettings settings)
    : settings_(std::move(settings)),
      capabilities_{.engine = "kafka", .durable = true, .multi_process = true, .native_delay = false,
                    .priority = false, .offsets = true, .server = true, .durable_retry = true} {
  admin_ = make_handle(RD_KAFKA_PRODUCER, admin_properties(settings_), {}, settings_.redacted_url);
  // librdkafka connects lazily; ask for the broker list now so that a wrong address is
  // an error here, within connect_timeout, and not a hang at the first send.
  const rd_kafka_metadata_t* metadata = nullptr;
  const auto error = rd_kafka_metadata(admin_.get(), 1, nullptr, &metadata,
                                       static_cast<int>(settings_.connect_timeout.count()));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw Error(ErrorCode::connection, fmt::format("cannot reach Kafka at {} within {} ms: {}", settings_.bootstrap,
                                                   settings_.connect_timeout.count(), rd_kafka_err2str(error)));
  }
  // mq_kafka_mock's control topic marks librdkafka's mock cluster, whose admin API
  // requests never complete (it has no controller): topics then go through it.
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    if (std::strcmp(metadata->topics[i].topic, mock_control_topic) == 0) admin_api_missing_ = true;
  }
  rd_kafka_metadata_destroy(metadata);
}

KafkaEngine::~KafkaEngine() { close(); }

void KafkaEngine::check_open() const {
  if (closed_.load(std::memory_order_acquire)) {
    throw Error(ErrorCode::closed, fmt::format("kafka engine for {} is closed", settings_.bootstrap));
  }
}

ProducerHandle& KafkaEngine::producer_for(Acks acks) {
  std::lock_guard lock(mutex_);
  auto& producer = producers_[acks];
  if (!producer) producer = std::make_unique<ProducerHandle>(settings_, acks);
  return *producer;
}

Status KafkaEngine::ensure_topic(const std::string& topic) {
  {
    std::lock_guard lock(mutex_);
    if (known_topics_.count(topic)) return {};
  }
  try {
    const auto topics = cluster_topics(admin_.get(), settings_.connect_timeout);
    if (!topics.count(topic)) {
      // Internal topics (dead letters, retries) are always created on demand.
      if (!settings_.auto_create_topics && !topic.starts_with(names::reserved_topic_prefix)) {
        return Status(ErrorCode::not_found, fmt::format("topic '{}' does not exist (auto_create_topics is off)", topic));
      }
      try {
        create_topic(topic, TopicOptions{});
      } catch (const Error& error) {
        if (error.code() != ErrorCode::already_exists) throw;
      }
    }
  } catch (const Error& error) {
    return error.status();
  }
  std::lock_guard lock(mutex_);
  known_topics_.insert(topic);
  return {};
}

void KafkaEngine::append(std::vector<core::Envelope> batch, Acks acks, core::AppendCallback done) {
  auto* pending = new PendingBatch;
  pending->results.resize(batch.size());  // receipts start at partition -1, offset -1
  pending->slots.assign(batch.size(), pending);
  pending->done = std::move(done);
  pending->remaining = batch.size() + 1;  // +1: this call's own hold, released last
  std::shared_lock lifecycle(lifecycle_);
  const bool closed = closed_.load(std::memory_order_acquire);
  std::map<std::string, Status, std::less<>> topics;
  const std::string* previous = nullptr;  // runs of one topic: one lookup each
  for (const auto& envelope : batch) {
    if (previous && *previous == envelope.message.topic) continue;
    previous = &envelope.message.topic;
    if (!topics.count(envelope.message.topic)) topics.emplace(envelope.message.topic, Status{});
  }
  if (!closed) {
    for (auto& [topic, status] : topics) status = ensure_topic(topic);
    // A delayed send's target topic is created now, not by the scheduler at its due time:
    // creating a topic takes several round trips (a second on the mock), which the
    // scheduler's move would add to this and every record due behind it.
    for (const auto& envelope : batch) {
      if (envelope.message.topic != names::delay_topic) continue;
      if (auto target = envelope.message.headers.find(names::original_topic_header)) (void)ensure_topic(std::string(*target));
    }
  }
  ProducerHandle* producer = nullptr;
  Status no_producer;
  if (!closed) {
    try {
      producer = &producer_for(acks);
    } catch (const Error& error) {
      no_producer = error.status();  // a bad producer property: every message fails with it
    }
  }
  // Batches usually hold one topic: its status and librdkafka topic handle are looked up
  // once per run of it.
  const std::string* run_topic = nullptr;
  const Status* run_status = &no_producer;
  rd_kafka_topic_t* run_handle = nullptr;
  Status no_handle;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Message& message = batch[i].message;  // ours: its topic and id move into the receipt
    auto& result = pending->results[i];
    // Set before the message is queued: its delivery report (another thread) reads the
    // topic for an error message. `results` never reallocates, so run_topic stays valid.
    result.receipt.topic = std::move(message.topic);
    result.receipt.id = std::move(message.id);
    if (closed) {
      result.status = Status(ErrorCode::closed, "kafka engine is closed");
      pending->remaining.fetch_sub(1);
      continue;
    }
    const std::string& topic = result.receipt.topic;
    if (producer && (!run_topic || *run_topic != topic)) {
      run_topic = &topic;
      run_status = &topics[topic];
      run_handle = run_status->ok() ? producer->topic(topic) : nullptr;
      if (run_status->ok() && !run_handle) {
        no_handle = status_for(rd_kafka_last_error(), fmt::format("send to '{}'", topic));
        run_status = &no_handle;
      }
    }
    if (!run_status->ok()) {
      result.status = *run_status;
      pending->remaining.fetch_sub(1);
      continue;
    }
    rd_kafka_headers_t* headers = rd_kafka_headers_new(message.headers.size() + 1);
    for (const auto& [name, value] : message.headers) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    const std::string& id = result.receipt.id;
    rd_kafka_header_add(headers, names::message_id_header.data(), static_cast<ssize_t>(names::message_id_header.size()),
                        id.data(), static_cast<ssize_t>(id.size()));
    // Macro arguments: computed first (the macros cast them without parentheses).
    const void* key = message.key ? message.key->data() : nullptr;
    const std::size_t key_size = message.key ? message.key->size() : 0;
    const int partition = message.partition >= 0 ? message.partition : RD_KAFKA_PARTITION_UA;
    const std::int64_t timestamp = millis_since_epoch(message.timestamp);
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::optional<std::chrono::steady_clock::time_point> deadline;  // from the first full queue on
    do {
      error = rd_kafka_producev(
          producer->get(), RD_KAFKA_V_RKT(run_handle),
          RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_size),
          RD_KAFKA_V_VALUE(const_cast<char*>(message.value.data()), message.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_OPAQUE(&pending->slots[i]), RD_KAFKA_V_END);
      // A full local queue drains as the brokers acknowledge; core bounds what it
      // buffers, so this wait is short unless the cluster is unreachable.
      if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      if (!deadline) deadline = std::chrono::steady_clock::now() + settings_.send_timeout;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    } while (std::chrono::steady_clock::now() < *deadline);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Refused before queueing: the headers are still ours, and no report will come.
      rd_kafka_headers_destroy(headers);
      result.status = status_for(error, fmt::format("send to '{}'", topic));
      pending->remaining.fetch_sub(1);
    }
  }
  lifecycle.unlock();
  pending->finish_one();
}

void KafkaEngine::member_joined(const std::string& group, int delta) {
  std::lock_guard lock(mutex_);
  if ((members_[group] += delta) <= 0) members_.erase(group);
}

void KafkaEngine::close() {
  std::unique_lock lifecycle(lifecycle_);
  if (closed_.exchange(true)) return;
  std::map<Acks, std::unique_ptr<ProducerHandle>> producers;
  {
    std::lock_guard lock(mutex_);
    producers.swap(producers_);
  }
  for (auto& [acks, producer] : producers) producer->flush(settings_.send_timeout);
  rd_kafka_flush(admin_.get(), static_cast<int>(settings_.connect_timeout.count()));  // retry-state tombstones
  producers.clear();  // anything still unsent fails through its report
}

}  // namespace mq::engines::kafka

namespace mq::engines {
std::shared_ptr<core::Engine> make_kafka_engine(const core::EngineUrl& url, const Config& config) {
  return std::make_shared<kafka::KafkaEngine>(kafka::settings_from(url, config));
}
}  // namespace mq::engines
