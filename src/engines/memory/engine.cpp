#include "engines/memory/engine.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/engine_registry.hpp"
#include "core/partitioner.hpp"
#include "mq/names.hpp"

namespace mq::engines {
namespace memory {
namespace {

[[noreturn]] void closed_error() { throw Error(ErrorCode::closed, "memory engine is closed"); }

}  // namespace

StoredMessage::StoredMessage(Message& message)
    : value_(std::move(message.value)), timestamp_(message.timestamp) {
  inline_id_ = message.id.size() == inline_id_size;
  if (inline_id_) std::copy(message.id.begin(), message.id.end(), id_.begin());
  if (message.key || !inline_id_) {
    extra_ = std::make_unique<Extra>(Extra{std::move(message.key), inline_id_ ? std::string() : std::move(message.id)});
  }
  headers_ = std::move(message.headers).share();
}

Message StoredMessage::load(const std::string& topic, int partition, int priority, std::int64_t offset) const {
  Message message;
  message.topic = topic;
  message.value = value_;
  message.id = inline_id_ ? std::string(id_.data(), id_.size()) : extra_->id;
  if (extra_) message.key = extra_->key;
  if (headers_) message.headers = Headers(headers_);  // shared, not copied
  message.timestamp = timestamp_;
  message.priority = priority;
  message.partition = partition;
  message.offset = offset;
  return message;
}

Topic* Broker::find_topic(const std::string& name, bool create, int partitions) {
  auto it = topics.find(name);
  if (it != topics.end()) return &it->second;
  if (!create) return nullptr;
  Topic topic;
  topic.partitions.resize(static_cast<std::size_t>(partitions > 0 ? partitions : default_partitions_));
  topic.created_version = ++topology_version;
  changed.notify_all();  // pattern subscriptions may want the new topic
  return &topics.emplace(name, std::move(topic)).first->second;
}

MemoryEngine::MemoryEngine(std::shared_ptr<Broker> broker, const Config& config)
    : broker_(std::move(broker)),
      capabilities_{.engine = "memory", .durable = false, .multi_process = false, .native_delay = true,
                    .priority = true, .offsets = true, .server = false, .durable_retry = false},
      auto_create_(config.auto_create_topics),
      default_partitions_(config.default_partitions) {}

MemoryEngine::~MemoryEngine() { close(); }

Topic* MemoryEngine::topic_for_append(const std::string& name) {
  // Internal topics (dead letters, retries) are always created on demand.
  const bool create = auto_create_ || name.starts_with(names::reserved_topic_prefix);
  return broker_->find_topic(name, create, default_partitions_);
}

core::AppendResult MemoryEngine::append_locked(Message& message, Topic* topic) {
  if (!topic) {
    return {Status(ErrorCode::not_found, fmt::format("topic '{}' does not exist (auto_create_topics is off)",
                                                     message.topic)),
            Receipt{message.topic, -1, -1, message.id, {}, {}}};
  }
  const int count = static_cast<int>(topic->partitions.size());
  int partition = message.partition;
  if (partition >= count) {
    return {Status(ErrorCode::invalid_argument,
                   fmt::format("topic '{}' has {} partitions; partition {} does not exist", message.topic, count,
                               partition)),
            Receipt{message.topic, -1, -1, message.id, {}, {}}};
  }
  if (partition < 0) {
    partition = message.key ? core::partition_for_key(*message.key, count)
                            : static_cast<int>(round_robin_++ % static_cast<std::uint64_t>(count));
  }
  // Validated by core: 0..9. Each priority has its own lane (offsets count per lane).
  auto& target = topic->partitions[static_cast<std::size_t>(partition)];
  auto& log = target.lane(message.priority);
  target.top = std::max(target.top, message.priority);
  const auto offset = static_cast<std::int64_t>(log.size());
  log.push_back(message);
  // The message is spent: its topic and id move on into the receipt.
  return {Status(), Receipt{std::move(message.topic), partition, offset, std::move(message.id), {}, {}}};
}

void MemoryEngine::append(std::vector<core::Envelope> batch, Acks, core::AppendCallback done) {
  std::vector<core::AppendResult> results(batch.size());
  std::vector<std::size_t> delayed;
  if (closed_) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      results[i].status = Status(ErrorCode::closed, "memory engine is closed");
    }
    done(std::move(results));
    return;
  }
  {
    std::lock_guard lock(broker_->mutex);
    const auto now = Clock::now();
    std::string last_name;
    Topic* last_topic = nullptr;  // valid while the mutex is held (no topic is erased)
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& envelope = batch[i];
      if (envelope.due != TimePoint{} && envelope.due > now) {
        delayed.push_back(i);
        continue;
      }
      if (i == 0 || envelope.message.topic != last_name) {
        last_name = envelope.message.topic;
        last_topic = topic_for_append(last_name);
      }
      results[i] = append_locked(envelope.message, last_topic);
    }
  }
  broker_->changed.notify_all();
  for (auto index : delayed) {
    auto& envelope = batch[index];
    results[index].receipt = Receipt{envelope.message.topic, -1, -1, envelope.message.id, {}, envelope.due};
    // steady_clock for the timer: a wall-clock jump must not fire or stall delays.
    const auto wait = envelope.due - Clock::now();
    delayed_.schedule(std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::nanoseconds>(wait),
                      [this, message = std::move(envelope.message)]() mutable {
                        {
                          std::lock_guard lock(broker_->mutex);
                          append_locked(message, topic_for_append(message.topic));
                        }
                        broker_->changed.notify_all();
                      });
  }
  done(std::move(results));
}

void MemoryEngine::create_topic(const std::string& name, const TopicOptions& options) {
  if (closed_) closed_error();
  std::lock_guard lock(broker_->mutex);
  if (broker_->topics.count(name)) throw Error(ErrorCode::already_exists, fmt::format("topic '{}' exists", name));
  broker_->find_topic(name, true, options.partitions);
}

void MemoryEngine::delete_topic(const std::string& name) {
  if (closed_) closed_error();
  std::lock_guard lock(broker_->mutex);
  if (!broker_->topics.erase(name)) throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", name));
  for (auto& [group_name, group] : broker_->groups) {
    std::erase_if(group.committed, [&](const auto& entry) { return entry.first.first == name; });
    std::erase_if(group.lane_committed, [&](const auto& entry) { return entry.first.first == name; });
    std::erase_if(group.owner, [&](const auto& entry) { return entry.first.first == name; });
    for (auto& [id, member] : group.members) {
      std::erase_if(member->owned, [&](const auto& entry) { return entry.first.first == name; });
      ++member->owned_epoch;
    }
  }
  ++broker_->topology_version;
  broker_->changed.notify_all();
}

std::vector<TopicInfo> MemoryEngine::list_topics() {
  if (closed_) closed_error();
  std::lock_guard lock(broker_->mutex);
  std::vector<TopicInfo> result;
  for (const auto& [name, topic] : broker_->topics) {
    TopicInfo info{name, static_cast<int>(topic.partitions.size()), 0};
    for (const auto& partition : topic.partitions) {
      for (int priority = 0; priority <= partition.top; ++priority) info.messages += partition.lane(priority).size();
    }
    result.push_back(std::move(info));
  }
  return result;
}

std::vector<std::string> MemoryEngine::list_groups() {
  if (closed_) closed_error();
  std::lock_guard lock(broker_->mutex);
  std::vector<std::string> result;
  for (const auto& [name, group] : broker_->groups) result.push_back(name);
  return result;
}

GroupInfo MemoryEngine::describe_group(const std::string& group_name) {
  if (closed_) closed_error();
  std::lock_guard lock(broker_->mutex);
  auto it = broker_->groups.find(group_name);
  if (it == broker_->groups.end()) {
    throw Error(ErrorCode::not_found, fmt::format("group '{}' does not exist", group_name));
  }
  GroupInfo info{group_name, static_cast<int>(it->second.members.size()), {}};
  // A partition's lag counts its priority lanes too: committed and end are then sums
  // over the lanes (counts, not offsets of one log), so lag = sent - acked still holds.
  const auto& lanes = it->second.lane_committed;
  for (const auto& [partition, committed] : it->second.committed) {
    const Topic* topic = broker_->find_topic(partition.first, false);
    if (!topic) continue;
    const auto& stored = topic->partitions[static_cast<std::size_t>(partition.second)];
    PartitionLag lag{partition.first, partition.second, committed, static_cast<std::int64_t>(stored.log.size())};
    const auto positions = lanes.find(partition);
    for (int priority = 1; priority <= stored.top; ++priority) {
      lag.end += static_cast<std::int64_t>(stored.lane(priority).size());
      if (positions != lanes.end()) lag.committed += positions->second[static_cast<std::size_t>(priority - 1)];
    }
    info.partitions.push_back(std::move(lag));
  }
  return info;
}

void MemoryEngine::close() {
  if (closed_.exchange(true)) return;
  delayed_.clear();  // documented: memory delays are not durable
}

}  // namespace memory

// memory://NAME: one Broker per NAME per process, alive while a client uses it.
std::shared_ptr<core::Engine> make_memory_engine(const core::EngineUrl& url, const Config& config) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<memory::Broker>> registry;
  std::shared_ptr<memory::Broker> broker;
  {
    std::lock_guard lock(registry_mutex);
    auto& slot = registry[url.path];
    broker = slot.lock();
    if (!broker) {
      broker = std::make_shared<memory::Broker>(config.default_partitions);
      slot = broker;
    }
  }
  return std::make_shared<memory::MemoryEngine>(std::move(broker), config);
}

}  // namespace mq::engines
