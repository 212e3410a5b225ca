// Topics and groups. AMQP 0-9-1 cannot list queues, so the registry stream
// "mq.registry" holds one event per topic created or deleted and per group that
// first joined; each process reads it once from the start and then only what was
// appended since its last read (README.md, "Registry").
#include <fmt/format.h>

#include <sstream>

#include "core/topic_pattern.hpp"
#include "engines/rabbitmq/engine.hpp"

namespace mq::engines::rabbitmq {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) parts.push_back(part);
  return parts;
}

}  // namespace

Registry RabbitEngine::read_registry(Connection& connection) {
  std::lock_guard lock(registry_mutex_);
  // Applied to a copy: a read that fails half way must not count its events twice.
  Registry registry = registry_;
  std::int64_t offset = registry_offset_;
  read_stream(connection, registry_queue, [&](const amqp_message_t& message) {
    const auto fields = split(std::string(static_cast<const char*>(message.body.bytes), message.body.len), '\t');
    if (fields.size() == 3 && fields[0] == "create") {
      registry.topics[fields[1]] = std::max(1, std::atoi(fields[2].c_str()));
      registry.markers.erase(fields[1]);
    } else if (fields.size() == 2 && fields[0] == "delete") {
      registry.topics.erase(fields[1]);
      registry.markers.erase(fields[1]);
    } else if (fields.size() == 2 && fields[0] == "marker") {
      ++registry.markers[fields[1]];
    } else if (fields.size() == 3 && fields[0] == "group") {
      registry.groups[fields[1]] = split(fields[2], ',');
    }
  }, {}, &offset);
  registry_ = registry;
  registry_offset_ = offset;
  return registry;
}

std::int64_t RabbitEngine::read_acked(Connection& connection, const std::string& group) {
  std::lock_guard lock(registry_mutex_);
  const auto known = acked_.try_emplace(group, -1, 0).first->second;
  std::int64_t offset = known.first;
  std::int64_t acked = known.second;
  read_stream(connection, acked_queue(group), [&](const amqp_message_t& message) {
    acked += std::atoll(std::string(static_cast<const char*>(message.body.bytes), message.body.len).c_str());
  }, {}, &offset);
  acked_[group] = {offset, acked};
  return acked;
}

void RabbitEngine::create_topic(const std::string& name, const TopicOptions& options) {
  auto connection = lease();
  try {
    connection->declare_queue(topic_queue(name), /*passive=*/true);
    throw Error(ErrorCode::already_exists, fmt::format("topic '{}' exists", name));
  } catch (const Error& error) {
    if (error.code() != ErrorCode::not_found) throw;
  }
  forget_topic(name);
  ensure_topic(*connection, name, true, options);
}

void RabbitEngine::delete_topic(const std::string& name) {
  auto connection = lease();
  try {
    connection->declare_queue(topic_queue(name), /*passive=*/true);
  } catch (const Error& error) {
    if (error.code() == ErrorCode::not_found) throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", name));
    throw;
  }
  connection->delete_queue(topic_queue(name));
  forget_topic(name);
  record(*connection, fmt::format("delete\t{}", name));
}

std::vector<TopicInfo> RabbitEngine::list_topics() {
  auto connection = lease();
  const auto registry = read_registry(*connection);
  std::vector<TopicInfo> topics;
  for (const auto& [name, partitions] : registry.topics) {
    try {
      // The stream's count less the markers put in it (retention lowers the count; the
      // server updates it about once a second).
      const auto state = connection->declare_queue(topic_queue(name), /*passive=*/true);
      const auto markers = registry.markers.count(name) ? registry.markers.at(name) : 0;
      const auto messages = std::max<std::int64_t>(0, std::int64_t{state.messages} - markers);
      topics.push_back(TopicInfo{name, partitions, static_cast<std::uint64_t>(messages)});
    } catch (const Error& error) {
      if (error.code() != ErrorCode::not_found) throw;  // deleted by a process that did not record it
    }
  }
  return topics;
}

std::vector<std::string> RabbitEngine::list_groups() {
  auto connection = lease();
  const auto registry = read_registry(*connection);
  std::vector<std::string> groups;
  for (const auto& [name, topics] : registry.groups) groups.push_back(name);
  return groups;
}

GroupInfo RabbitEngine::describe_group(const std::string& group) {
  auto connection = lease();
  QueueState state;
  try {
    state = connection->declare_queue(group_queue(group), /*passive=*/true);
  } catch (const Error& error) {
    if (error.code() == ErrorCode::not_found) throw Error(ErrorCode::not_found, fmt::format("group '{}' does not exist", group));
    throw;
  }
  const auto registry = read_registry(*connection);
  const std::int64_t acked = read_acked(*connection, group);
  GroupInfo info{group, static_cast<int>(state.consumers), {}};
  // One queue holds the group's messages from all its topics: the group's counts are
  // reported once, on its first topic (README.md, "Lag"). Committed: acks counted in
  // the ack stream; end: that plus the messages ready in the queue (deliveries not yet
  // acked are not counted: AMQP reports only ready messages).
  const auto subscribed = registry.groups.find(group);
  if (subscribed == registry.groups.end()) return info;
  const core::TopicFilter filter(subscribed->second);
  for (const auto& [topic, partitions] : registry.topics) {
    if (!filter.matches(topic)) continue;
    const bool first = info.partitions.empty();
    const std::int64_t committed = first ? acked : 0;
    info.partitions.push_back(PartitionLag{topic, 0, committed, committed + (first ? state.messages : 0)});
  }
  return info;
}

}  // namespace mq::engines::rabbitmq
