// The group registry: the topic mq.groups holds one record per consumer group an mq
// member has joined (key and value: the group's name). Admin::list_groups reads it
// where the cluster has no ListGroups API (librdkafka 2.0.2's mock cluster); a real
// broker answers ListGroups and the registry is not read (admin.cpp).
//
// On a real broker the topic is created compacted, so it keeps one record per group
// however often members join. It never forgets a group: a group whose offsets expired
// or were deleted stays listed in the fallback (README.md).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "core/logging.hpp"
#include "engines/kafka/engine.hpp"
#include "mq/names.hpp"

namespace mq::engines::kafka {

void KafkaEngine::register_group(const std::string& group) {
  {
    std::lock_guard lock(mutex_);
    if (!registered_groups_.insert(group).second) return;  // once per engine and group
  }
  try {
    // Stored before the member counts as joined, so a listing right after sees the group.
    append_internal(group_registry_topic, group, &group, true);
  } catch (const Error& error) {
    // Only the fallback listing misses the group; consuming goes on.
    std::lock_guard lock(mutex_);
    registered_groups_.erase(group);
    core::log(LogLevel::warning, "kafka: cannot record group '{}' in {}: {}", group, group_registry_topic, error.what());
  }
}

void KafkaEngine::append_internal(const std::string& topic, const std::string& key, const std::string* value,
                                  bool wait) {
  bool known = false;
  {
    std::lock_guard lock(mutex_);
    known = known_topics_.count(topic) > 0;
  }
  if (!known) {
    if (!cluster_topics(admin_.get(), settings_.connect_timeout).count(topic)) {
      try {
        create_topic(topic, TopicOptions{.partitions = 1});
      } catch (const Error& error) {
        if (error.code() != ErrorCode::already_exists) throw;
      }
    }
    std::lock_guard lock(mutex_);
    known_topics_.insert(topic);
  }
  const auto error = rd_kafka_producev(
      admin_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(value ? const_cast<char*>(value->data()) : nullptr, value ? value->size() : 0),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) throw error_for(error, fmt::format("append to '{}'", topic));
  // The admin handle has no delivery reports: a flush that ends in time is the proof.
  if (wait && rd_kafka_flush(admin_.get(), static_cast<int>(settings_.connect_timeout.count())) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw Error(ErrorCode::timeout, fmt::format("append to '{}' at {}: not stored within {} ms", topic,
                                                settings_.bootstrap, settings_.connect_timeout.count()));
  }
}

std::vector<std::string> KafkaEngine::registered_groups() {
  std::set<std::string> groups;
  read_topic(group_registry_topic, 0, [&](const rd_kafka_message_t* message) {
    if (message->key) groups.emplace(static_cast<const char*>(message->key), message->key_len);
  });
  return {groups.begin(), groups.end()};
}

std::int64_t KafkaEngine::read_topic(const std::string& topic, std::int64_t from,
                                     const std::function<void(const rd_kafka_message_t*)>& each) {
  const int timeout_ms = static_cast<int>(settings_.connect_timeout.count());
  // Metadata of all topics first: asking for one unknown topic may create it on brokers
  // that auto-create topics.
  if (!cluster_topics(admin_.get(), settings_.connect_timeout).count(topic)) return from;  // nothing stored yet
  std::int64_t low = 0, high = 0;
  const auto error = rd_kafka_query_watermark_offsets(admin_.get(), topic.c_str(), 0, &low, &high, timeout_ms);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) throw error_for(error, fmt::format("read '{}' at {}", topic, settings_.bootstrap));
  low = std::max(low, from);
  if (high <= low) return std::max(from, high);
  // A consumer that is assigned the partition and never joins or commits: group.id is
  // only a label here.
  Handle reader = make_handle(RD_KAFKA_CONSUMER, consumer_properties(settings_, topic, StartPosition::earliest), {},
                              settings_.redacted_url);
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(assignment, topic.c_str(), 0)->offset = low;
  rd_kafka_assign(reader.get(), assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  const auto deadline = std::chrono::steady_clock::now() + settings_.connect_timeout;
  std::int64_t next = low;  // compaction leaves gaps: the offsets, not a count, tell the end
  while (next < high && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(reader.get(), 100);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      each(message);
      next = message->offset + 1;
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(reader.get());
  if (next < high) {
    throw Error(ErrorCode::timeout, fmt::format("read '{}' at {}: not done within {} ms", topic, settings_.bootstrap,
                                                settings_.connect_timeout.count()));
  }
  return next;
}

}  // namespace mq::engines::kafka
