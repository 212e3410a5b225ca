// The public classes Client, Producer, Consumer and Admin: thin handles over core.
#include "mq/client.hpp"

#include <algorithm>
#include <mutex>

#include "core/consumer_runtime.hpp"
#include "core/dedup_store.hpp"
#include "core/delay_scheduler.hpp"
#include "core/metrics.hpp"
#include "core/engine.hpp"
#include "core/producer_impl.hpp"
#include "core/validate.hpp"
#include "mq/names.hpp"

namespace mq {

struct Client::State {
  Config config;
  std::shared_ptr<core::Engine> engine;
  std::mutex scheduler_mutex;  // guards scheduler and dedup
  std::shared_ptr<core::DelayScheduler> scheduler;  // started by the first consumer
  std::shared_ptr<core::DedupStore> dedup;           // made by the first dedup consumer

  bool core_delay() const { return config.core_delay_scheduler || !engine->capabilities().native_delay; }
  // Consumers are where delayed messages must arrive, so each consuming Client runs a
  // scheduler member; a producer-only process (which may be killed right after its
  // sends, C19) holds none.
  std::shared_ptr<core::DelayScheduler> scheduler_for_consumers() {
    if (!core_delay()) return nullptr;
    std::lock_guard lock(scheduler_mutex);
    if (!scheduler) scheduler = std::make_shared<core::DelayScheduler>(engine);
    return scheduler;
  }
  std::shared_ptr<core::DedupStore> dedup_store(std::size_t max_entries) {
    std::lock_guard lock(scheduler_mutex);
    if (!dedup) dedup = engine->dedup_store();
    if (!dedup) dedup = std::make_shared<core::InProcessDedupStore>(max_entries);
    return dedup;
  }
};

Client::Client(Config config) : Client(config.url, config) {}

Client::Client(const std::string& url, Config config) : state_(std::make_unique<State>()) {
  config.url = url;
  set_log_level(config.log_level);
  state_->engine = core::open_engine(url, config);
  core::metrics::register_engine(state_->engine);
  state_->config = std::move(config);
}

Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Producer Client::producer() { return producer(state_->config.producer); }

Producer Client::producer(ProducerOptions options) {
  return Producer(std::make_shared<core::ProducerImpl>(state_->engine, options, state_->core_delay()));
}

Consumer Client::consumer(ConsumerOptions options, Handler handler) {
  core::ConsumerServices services;
  services.keep_alive = state_->scheduler_for_consumers();
  if (options.dedup.enabled) services.dedup = state_->dedup_store(options.dedup.max_entries);
  return Consumer(std::make_shared<core::ConsumerRuntime>(state_->engine, std::move(options), std::move(handler),
                                                          std::move(services)));
}

Consumer Client::batch_consumer(ConsumerOptions options, BatchOptions batch, BatchHandler handler) {
  core::ConsumerServices services;
  services.keep_alive = state_->scheduler_for_consumers();
  return Consumer(std::make_shared<core::ConsumerRuntime>(state_->engine, std::move(options), batch,
                                                          std::move(handler), std::move(services)));
}

Consumer Client::consumer(std::string group, std::vector<std::string> topics, Handler handler) {
  ConsumerOptions options = state_->config.consumer;
  options.group = std::move(group);
  options.topics = std::move(topics);
  return consumer(std::move(options), std::move(handler));
}

Admin Client::admin() { return Admin(state_->engine); }

const Config& Client::config() const { return state_->config; }
const Capabilities& Client::capabilities() const { return state_->engine->capabilities(); }

std::string Client::url() const { return redact_url(state_->config.url); }

// --- Producer ---------------------------------------------------------------------

Producer::Producer(std::shared_ptr<core::ProducerImpl> impl) : impl_(std::move(impl)) {}
Producer::Producer(Producer&&) noexcept = default;
Producer& Producer::operator=(Producer&&) noexcept = default;
Producer::~Producer() {
  if (impl_) impl_->close();
}

Receipt Producer::send(Message message) { return impl_->send(std::move(message), TimePoint{}); }
void Producer::send_async(Message message, SendCallback callback) {
  impl_->send_async(std::move(message), std::move(callback));
}
std::vector<Receipt> Producer::send_batch(std::vector<Message> messages) {
  return impl_->send_batch(std::move(messages));
}
Receipt Producer::send_after(Message message, std::chrono::milliseconds delay) {
  return send_at(std::move(message), Clock::now() + std::max(delay, std::chrono::milliseconds(0)));
}
Receipt Producer::send_at(Message message, TimePoint due) {
  // A due time in the past means "now"; zero is reserved for "no delay".
  return impl_->send(std::move(message), std::max(due, TimePoint{} + std::chrono::milliseconds(1)));
}
bool Producer::flush(std::chrono::milliseconds timeout) { return impl_->flush(timeout); }
void Producer::close() { impl_->close(); }
const ProducerOptions& Producer::options() const { return impl_->options(); }

// --- Consumer ---------------------------------------------------------------------

Consumer::Consumer(std::shared_ptr<core::ConsumerRuntime> runtime) : runtime_(std::move(runtime)) {}
Consumer::Consumer(Consumer&&) noexcept = default;
Consumer& Consumer::operator=(Consumer&&) noexcept = default;
Consumer::~Consumer() {
  if (runtime_) runtime_->stop(runtime_->options().stop_timeout);
}

bool Consumer::stop(std::chrono::milliseconds deadline) { return runtime_->stop(deadline); }
void Consumer::set_max_in_flight(int limit) { runtime_->set_max_in_flight(limit); }
ConsumerStats Consumer::stats() const { return runtime_->stats(); }
const ConsumerOptions& Consumer::options() const { return runtime_->options(); }

// --- Admin ------------------------------------------------------------------------

void Admin::create_topic(const std::string& name, TopicOptions options) {
  core::validate_user_topic(name);
  if (options.partitions < 0 || options.partitions > 10000) {
    throw Error(ErrorCode::invalid_argument,
                "topic '" + name + "': partitions must be 1..10000 (0 for the default)");
  }
  engine_->create_topic(name, options);
}

void Admin::delete_topic(const std::string& name) {
  core::validate_name(name, "topic");
  engine_->delete_topic(name);
}

std::vector<TopicInfo> Admin::list_topics(bool include_internal) {
  auto topics = engine_->list_topics();
  if (!include_internal) {
    std::erase_if(topics, [](const TopicInfo& topic) { return topic.name.starts_with(names::reserved_topic_prefix); });
  }
  std::sort(topics.begin(), topics.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return topics;
}

std::vector<std::string> Admin::list_groups() {
  auto groups = engine_->list_groups();
  // mq's own groups (mq.scheduler, dead-letter readers) are not the user's.
  std::erase_if(groups, [](const std::string& group) { return group.starts_with(names::reserved_topic_prefix); });
  std::sort(groups.begin(), groups.end());
  return groups;
}

GroupInfo Admin::describe_group(const std::string& group) {
  core::validate_name(group, "group");
  return engine_->describe_group(group);
}

std::int64_t GroupInfo::total_lag() const {
  std::int64_t total = 0;
  for (const auto& partition : partitions) total += partition.lag();
  return total;
}

}  // namespace mq
