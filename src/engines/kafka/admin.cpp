// Topics and groups through librdkafka's admin API and metadata. librdkafka 2.0.2's
// mock cluster lacks CreateTopics, DeleteTopics and the group listing APIs; for topics,
// mq_kafka_mock (tools/kafka-mock) takes the same requests on a control topic instead.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "core/logging.hpp"
#include "engines/kafka/engine.hpp"
#include "mq/names.hpp"

namespace mq::engines::kafka {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
};
struct OptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* options) const { rd_kafka_AdminOptions_destroy(options); }
};
using Event = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

// Runs one admin request and waits for its result event.
template <typename Request>
Event run_admin(rd_kafka_t* handle, rd_kafka_admin_op_t op, milliseconds timeout, Request&& request) {
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(handle));
  std::unique_ptr<rd_kafka_AdminOptions_t, OptionsDeleter> options(rd_kafka_AdminOptions_new(handle, op));
  char reason[256];
  rd_kafka_AdminOptions_set_request_timeout(options.get(), static_cast<int>(timeout.count()), reason, sizeof reason);
  request(options.get(), queue.get());
  return Event(rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count()) + 1000));
}

// The error of a topic admin result: the request's own, else the topic's.
std::pair<rd_kafka_resp_err_t, std::string> topic_result(rd_kafka_event_t* event,
                                                         const rd_kafka_topic_result_t** topics, std::size_t count) {
  if (!event) return {RD_KAFKA_RESP_ERR__TIMED_OUT, "no answer"};
  if (const auto error = rd_kafka_event_error(event); error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return {error, rd_kafka_event_error_string(event)};
  }
  if (count > 0 && rd_kafka_topic_result_error(topics[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* text = rd_kafka_topic_result_error_string(topics[0]);
    return {rd_kafka_topic_result_error(topics[0]), text ? text : ""};
  }
  return {RD_KAFKA_RESP_ERR_NO_ERROR, ""};
}

std::string reason_text(rd_kafka_resp_err_t error, const std::string& text) {
  return text.empty() ? rd_kafka_err2str(error) : text;
}

struct Watermarks {
  std::int64_t low = 0;   // first offset still stored
  std::int64_t high = 0;  // next offset a producer will write
};

// A partition's watermarks, or an error naming it: a count or a lag computed without
// them would be silently wrong.
Watermarks watermarks_of(rd_kafka_t* handle, const char* topic, int partition, milliseconds timeout) {
  Watermarks marks;
  const auto error = rd_kafka_query_watermark_offsets(handle, topic, partition, &marks.low, &marks.high,
                                                      static_cast<int>(timeout.count()));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw error_for(error, fmt::format("offsets of partition {} of topic '{}'", partition, topic));
  }
  return marks;
}

}  // namespace

bool KafkaEngine::wait_for_topic(const std::string& topic, int partitions, milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    const auto topics = cluster_topics(admin_.get(), timeout);
    const auto it = topics.find(topic);
    if (partitions == 0 ? it == topics.end() : (it != topics.end() && it->second >= partitions)) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // metadata has no change event
  }
}

void KafkaEngine::mock_control(const std::string& command) {
  const auto error = rd_kafka_producev(admin_.get(), RD_KAFKA_V_TOPIC(mock_control_topic), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_VALUE(const_cast<char*>(command.data()), command.size()),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) throw error_for(error, "mq_kafka_mock control request");
  rd_kafka_flush(admin_.get(), static_cast<int>(settings_.connect_timeout.count()));
}

void KafkaEngine::create_topic(const std::string& name, const TopicOptions& options) {
  check_open();
  const int partitions = options.partitions > 0 ? options.partitions : settings_.default_partitions;
  const auto what = fmt::format("create topic '{}' at {}", name, settings_.bootstrap);
  if (!admin_api_missing_) {
    const auto event = run_admin(admin_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, settings_.connect_timeout,
                                 [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
      char reason[256];
      rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(name.c_str(), partitions, -1, reason, sizeof reason);
      if (options.retention.count() > 0) {
        rd_kafka_NewTopic_set_config(topic, "retention.ms", std::to_string(options.retention.count()).c_str());
      }
      // The group registry and the retry state keep the latest record per key (groups.cpp).
      if (name == group_registry_topic || name.starts_with(names::retry_prefix)) {
        rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
      }
      if (options.retention_bytes > 0) {
        rd_kafka_NewTopic_set_config(topic, "retention.bytes", std::to_string(options.retention_bytes).c_str());
      }
      rd_kafka_CreateTopics(admin_.get(), &topic, 1, admin_options, queue);
      rd_kafka_NewTopic_destroy(topic);
    });
    std::size_t count = 0;
    const rd_kafka_topic_result_t** topics =
        event ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count) : nullptr;
    const auto [error, text] = topic_result(event.get(), topics, count);
    if (error == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      throw Error(ErrorCode::already_exists, fmt::format("topic '{}' already exists", name));
    }
    if (error != RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
      if (error != RD_KAFKA_RESP_ERR_NO_ERROR) throw Error(code_for(error), fmt::format("{}: {}", what, reason_text(error, text)));
      if (!wait_for_topic(name, partitions, settings_.connect_timeout)) {
        throw Error(ErrorCode::timeout, fmt::format("{}: not visible in metadata after {} ms", what,
                                                    settings_.connect_timeout.count()));
      }
      return;
    }
    admin_api_missing_ = true;
    core::log(LogLevel::info, "kafka: {} has no CreateTopics; using mq_kafka_mock's control topic", settings_.bootstrap);
  }
  if (cluster_topics(admin_.get(), settings_.connect_timeout).count(name)) {
    throw Error(ErrorCode::already_exists, fmt::format("topic '{}' already exists", name));
  }
  mock_control(fmt::format("create {} {}", name, partitions));
  if (!wait_for_topic(name, partitions, settings_.connect_timeout)) {
    throw Error(ErrorCode::not_supported,
                fmt::format("{}: the cluster has no CreateTopics API and no mq_kafka_mock control topic answered",
                            what));
  }
}

void KafkaEngine::delete_topic(const std::string& name) {
  check_open();
  const auto what = fmt::format("delete topic '{}' at {}", name, settings_.bootstrap);
  if (!cluster_topics(admin_.get(), settings_.connect_timeout).count(name)) {
    throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", name));
  }
  {
    std::lock_guard lock(mutex_);
    known_topics_.erase(name);
  }
  if (!admin_api_missing_) {
    const auto event = run_admin(admin_.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS, settings_.connect_timeout,
                                 [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
      rd_kafka_DeleteTopic_t* topic = rd_kafka_DeleteTopic_new(name.c_str());
      rd_kafka_DeleteTopics(admin_.get(), &topic, 1, admin_options, queue);
      rd_kafka_DeleteTopic_destroy(topic);
    });
    std::size_t count = 0;
    const rd_kafka_topic_result_t** topics =
        event ? rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event.get()), &count) : nullptr;
    const auto [error, text] = topic_result(event.get(), topics, count);
    if (error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", name));
    }
    if (error != RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
      if (error != RD_KAFKA_RESP_ERR_NO_ERROR) throw Error(code_for(error), fmt::format("{}: {}", what, reason_text(error, text)));
      wait_for_topic(name, 0, settings_.connect_timeout);
      return;
    }
    admin_api_missing_ = true;
  }
  // The mock cannot delete a topic: mq_kafka_mock hides it (metadata then reports it
  // unknown); its messages stay in memory (README.md).
  mock_control(fmt::format("delete {}", name));
  if (!wait_for_topic(name, 0, settings_.connect_timeout)) {
    throw Error(ErrorCode::not_supported,
                fmt::format("{}: the cluster has no DeleteTopics API and no mq_kafka_mock control topic answered", what));
  }
}

std::vector<TopicInfo> KafkaEngine::list_topics() {
  check_open();
  std::vector<TopicInfo> result;
  for (const auto& [name, partitions] : cluster_topics(admin_.get(), settings_.connect_timeout)) {
    TopicInfo info{name, partitions, 0};
    for (int partition = 0; partition < partitions; ++partition) {
      const auto marks = watermarks_of(admin_.get(), name.c_str(), partition, settings_.connect_timeout);
      info.messages += static_cast<std::uint64_t>(std::max<std::int64_t>(marks.high - marks.low, 0));
    }
    result.push_back(std::move(info));
  }
  return result;
}

std::vector<std::string> KafkaEngine::list_groups() {
  check_open();
  // A cluster without the admin API (the mock) answers no ListGroups either.
  if (admin_api_missing_) return registered_groups();
  const auto event = run_admin(admin_.get(), RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, settings_.connect_timeout,
                               [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_ListConsumerGroups(admin_.get(), admin_options, queue);
  });
  if (!event) throw Error(ErrorCode::timeout, fmt::format("list groups at {}: no answer", settings_.bootstrap));
  const auto error = rd_kafka_event_error(event.get());
  if (error == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE || error == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION) {
    return registered_groups();
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw Error(code_for(error), fmt::format("list groups at {}: {}", settings_.bootstrap, rd_kafka_event_error_string(event.get())));
  }
  const auto* listing = rd_kafka_event_ListConsumerGroups_result(event.get());
  std::size_t count = 0;
  const auto* const* groups = rd_kafka_ListConsumerGroups_result_valid(listing, &count);
  std::size_t errors = 0;
  rd_kafka_ListConsumerGroups_result_errors(listing, &errors);
  // No broker answered ListGroups: the registry is the only listing there is.
  if (count == 0 && errors > 0) return registered_groups();
  std::vector<std::string> names;
  for (std::size_t i = 0; i < count; ++i) names.emplace_back(rd_kafka_ConsumerGroupListing_group_id(groups[i]));
  std::sort(names.begin(), names.end());
  return names;
}

GroupInfo KafkaEngine::describe_group(const std::string& group) {
  check_open();
  GroupInfo info;
  info.name = group;
  {
    std::lock_guard lock(mutex_);
    if (auto it = members_.find(group); it != members_.end()) info.members = it->second;
  }
  // Committed offsets (OffsetFetch) through a consumer handle of the group that never
  // joins it, for every partition of every topic; lag is the high watermark minus that.
  const auto topics = cluster_topics(admin_.get(), settings_.connect_timeout);
  auto properties = consumer_properties(settings_, group, StartPosition::earliest);
  Handle reader = make_handle(RD_KAFKA_CONSUMER, properties, {}, settings_.redacted_url);
  PartitionList partitions(rd_kafka_topic_partition_list_new(16));
  for (const auto& [name, count] : topics) {
    for (int partition = 0; partition < count; ++partition) {
      rd_kafka_topic_partition_list_add(partitions.get(), name.c_str(), partition);
    }
  }
  const auto error = rd_kafka_committed(reader.get(), partitions.get(), static_cast<int>(settings_.connect_timeout.count()));
  rd_kafka_consumer_close(reader.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw error_for(error, fmt::format("describe group '{}' at {}", group, settings_.bootstrap));
  }
  // A group reads every partition of a topic it consumes, but commits only where it
  // handled a message: a partition with no commit yet, in a topic the group has committed
  // on, is read from its start (a group starting at "latest" commits its start position
  // when it joins, KafkaSubscription::set_positions), so its whole content is lag.
  // Leaving such partitions out made the lag miss messages that the (sticky) partitioner
  // put into a partition the group had seen empty.
  std::set<std::string> consumed_topics;
  for (int i = 0; i < partitions->cnt; ++i) {
    if (partitions->elems[i].offset >= 0) consumed_topics.insert(partitions->elems[i].topic);
  }
  for (int i = 0; i < partitions->cnt; ++i) {
    const auto& entry = partitions->elems[i];
    if (!consumed_topics.count(entry.topic)) continue;
    const auto marks = watermarks_of(admin_.get(), entry.topic, entry.partition, settings_.connect_timeout);
    info.partitions.push_back(PartitionLag{entry.topic, entry.partition, entry.offset >= 0 ? entry.offset : marks.low,
                                           marks.high});
  }
  return info;
}

}  // namespace mq::engines::kafka
