// Topics (the registry: mq:topics and mq:topic:<name>) and consumer groups.
#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <algorithm>

#include "engines/redis/codec.hpp"
#include "engines/redis/engine.hpp"

namespace mq::engines::redis {
namespace {

// A TopicEntry from HGETALL of mq:topic:<name> (field, value, field, value, ...).
std::optional<TopicEntry> parse_entry(const redisReply* fields) {
  TopicEntry entry;
  if (is_nil(fields)) return std::nullopt;
  for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
    const auto name = text_of(fields->element[i]);
    const auto value = integer_of(fields->element[i + 1]);
    if (name == "partitions") entry.partitions = static_cast<int>(value);
    else if (name == "created") entry.created_ms = value;
    else if (name == "retention") entry.retention_ms = value;
    else if (name == "maxlen") entry.maxlen = static_cast<std::uint64_t>(value);
    else if (name.starts_with("lane") && name.size() == 5 && name[4] >= '1' && name[4] <= '9') entry.lanes[name[4] - '0'] = value;
  }
  if (entry.partitions <= 0) return std::nullopt;
  return entry;
}

}  // namespace

std::vector<StreamRef> streams_of(const std::string& topic, const TopicEntry& entry) {
  std::vector<StreamRef> streams;
  for (int p = 0; p < entry.partitions; ++p) {
    streams.push_back(StreamRef{keys::stream(topic, p), p, 0, entry.created_ms});
    for (const auto& [priority, created] : entry.lanes) {
      streams.push_back(StreamRef{keys::lane(topic, p, priority), p, priority, created});
    }
  }
  return streams;
}

std::optional<TopicEntry> RedisEngine::register_topic(Connection& connection, const std::string& name, int partitions,
                                                      const TopicOptions& options, bool exclusive) {
  const auto reply = checked(
      settings_.address, fmt::format("create topic '{}'", name),
      register_topic_script().run(connection, {keys::topics, keys::topic_meta(name), keys::topics_version},
                                  {name, std::to_string(partitions), std::to_string(options.retention.count()),
                                   std::to_string(settings_.maxlen)}));
  if (reply.size() != 2) throw Error(ErrorCode::internal, "redis: unexpected reply registering a topic");
  if (exclusive && integer_of(reply.element(0)) == 0) {
    throw Error(ErrorCode::already_exists, fmt::format("topic '{}' exists", name));
  }
  return parse_entry(reply.element(1));
}

std::optional<TopicEntry> RedisEngine::topic(const std::string& name, bool create) {
  {
    std::lock_guard lock(topics_mutex_);
    if (auto it = topics_.find(name); it != topics_.end()) return it->second;
  }
  std::optional<TopicEntry> entry;
  {
    auto connection = pool_.acquire();
    const auto meta = checked(settings_.address, fmt::format("read topic '{}'", name),
                              connection->command(Args{"HGETALL", keys::topic_meta(name)}));
    entry = parse_entry(meta.get());
    if (!entry && create) {
      entry = register_topic(*connection, name, settings_.default_partitions, TopicOptions{}, false);
    }
  }
  if (!entry) return std::nullopt;
  std::lock_guard lock(topics_mutex_);
  return topics_.try_emplace(name, *entry).first->second;  // a racing lookup's entry wins
}

std::map<std::string, TopicEntry> RedisEngine::registry(Connection& connection) {
  const auto names = checked(settings_.address, "list topics", connection.command(Args{"HKEYS", keys::topics}));
  std::vector<Args> commands;
  std::vector<std::string> listed;
  for (std::size_t i = 0; i < names.size(); ++i) {
    listed.emplace_back(text_of(names.element(i)));
    commands.push_back(Args{"HGETALL", keys::topic_meta(listed.back())});
  }
  Status failure;
  const auto replies = connection.pipeline(commands, failure);
  if (!failure.ok()) throw Error(failure);
  std::map<std::string, TopicEntry> result;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (auto entry = parse_entry(replies[i].get())) result.emplace(listed[i], std::move(*entry));
  }
  return result;
}

void RedisEngine::create_topic(const std::string& name, const TopicOptions& options) {
  check_open();
  if (options.retention_bytes > 0) {
    throw Error(ErrorCode::not_supported, fmt::format("topic '{}': Redis streams cannot trim by bytes; use "
                                                      "retention (time, MINID) or redis.maxlen (entries)", name));
  }
  const int partitions = options.partitions > 0 ? options.partitions : settings_.default_partitions;
  auto connection = pool_.acquire();
  auto entry = register_topic(*connection, name, partitions, options, true);
  std::lock_guard lock(topics_mutex_);
  if (entry) topics_.insert_or_assign(name, *entry);
}

void RedisEngine::delete_topic(const std::string& name) {
  check_open();
  auto connection = pool_.acquire();
  const auto meta = checked(settings_.address, fmt::format("read topic '{}'", name),
                            connection->command(Args{"HGETALL", keys::topic_meta(name)}));
  const auto entry = parse_entry(meta.get());
  if (!entry) throw Error(ErrorCode::not_found, fmt::format("topic '{}' does not exist", name));
  Args command{"DEL", keys::topic_meta(name)};
  for (const auto& stream : streams_of(name, *entry)) command.push_back(stream.key);
  std::vector<Args> commands{Args{"HDEL", keys::topics, name}, command, Args{"INCR", keys::topics_version}};
  Status failure;
  const auto replies = connection->pipeline(commands, failure);
  if (!failure.ok()) throw Error(failure);
  for (const auto& reply : replies) {
    if (auto status = reply_status(settings_.address, fmt::format("delete topic '{}'", name), reply); !status.ok()) {
      throw Error(status);
    }
  }
  std::lock_guard lock(topics_mutex_);
  topics_.erase(name);
}

std::vector<TopicInfo> RedisEngine::list_topics() {
  check_open();
  auto connection = pool_.acquire();
  const auto topics = registry(*connection);
  std::vector<Args> commands;
  for (const auto& [name, entry] : topics) {
    for (const auto& stream : streams_of(name, entry)) commands.push_back(Args{"XLEN", stream.key});
  }
  Status failure;
  const auto replies = connection->pipeline(commands, failure);
  if (!failure.ok()) throw Error(failure);
  std::vector<TopicInfo> result;
  std::size_t k = 0;
  for (const auto& [name, entry] : topics) {
    TopicInfo info{name, entry.partitions, 0};
    for (std::size_t n = streams_of(name, entry).size(); n > 0; --n, ++k) {
      info.messages += static_cast<std::uint64_t>(replies[k].integer());
    }
    result.push_back(std::move(info));
  }
  return result;
}

std::vector<std::string> RedisEngine::list_groups() {
  check_open();
  auto connection = pool_.acquire();
  const auto reply = checked(settings_.address, "list groups", connection->command(Args{"SMEMBERS", keys::groups}));
  std::vector<std::string> result;
  for (std::size_t i = 0; i < reply.size(); ++i) result.emplace_back(text_of(reply.element(i)));
  std::sort(result.begin(), result.end());
  return result;
}

// Redis stream ids are not contiguous offsets (Capabilities::offsets is false). Per
// partition this reports counts instead: `end` is the number of entries ever added to
// the stream (XINFO STREAM entries-added) and `committed` the number the group has
// finished (XINFO GROUPS entries-read minus pending), so lag = sent - acked.
GroupInfo RedisEngine::describe_group(const std::string& group) {
  check_open();
  auto connection = pool_.acquire();
  const auto streams = checked(settings_.address, fmt::format("describe group '{}'", group),
                               connection->command(Args{"SMEMBERS", keys::group_streams(group)}));
  if (streams.size() == 0) throw Error(ErrorCode::not_found, fmt::format("group '{}' does not exist", group));
  std::vector<std::string> names;
  std::vector<Args> commands;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    names.emplace_back(text_of(streams.element(i)));
    commands.push_back(Args{"XINFO", "STREAM", names.back()});
    commands.push_back(Args{"XINFO", "GROUPS", names.back()});
  }
  const auto members = checked(settings_.address, fmt::format("describe group '{}'", group),
                               connection->command(Args{"SMEMBERS", keys::group_members(group)}));
  for (std::size_t i = 0; i < members.size(); ++i) {
    commands.push_back(Args{"EXISTS", keys::member_prefix(group) + std::string(text_of(members.element(i)))});
  }
  Status failure;
  const auto replies = connection->pipeline(commands, failure);
  if (!failure.ok()) throw Error(failure);
  GroupInfo info{group, 0, {}};
  // Priority lanes count towards their partition.
  std::map<std::pair<std::string, int>, PartitionLag> partitions;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto& stream = replies[2 * i];
    const auto& groups = replies[2 * i + 1];
    if (stream.is_error() || groups.is_error()) continue;  // the topic was deleted
    const auto parsed = parse_stream_key(names[i]);
    if (!parsed) continue;
    PartitionLag lag{parsed->topic, parsed->partition, 0, 0};
    for (std::size_t f = 0; f + 1 < stream.size(); f += 2) {
      if (text_of(stream.element(f)) == "entries-added") lag.end = integer_of(stream.element(f + 1));
    }
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const redisReply* fields = groups.element(g);
      std::string_view group_name;
      long long read = -1, pending = 0, behind = 0;
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        const auto field = text_of(fields->element[f]);
        if (field == "name") group_name = text_of(fields->element[f + 1]);
        else if (field == "entries-read" && !is_nil(fields->element[f + 1])) read = integer_of(fields->element[f + 1]);
        else if (field == "pending") pending = integer_of(fields->element[f + 1]);
        else if (field == "lag" && !is_nil(fields->element[f + 1])) behind = integer_of(fields->element[f + 1]);
      }
      if (group_name != group) continue;
      if (read < 0) read = lag.end - behind;  // entries-read unknown (after deletions): estimate
      lag.committed = std::max<std::int64_t>(read - pending, 0);
    }
    auto [it, inserted] = partitions.try_emplace({lag.topic, lag.partition}, lag);
    if (!inserted) {
      it->second.end += lag.end;
      it->second.committed += lag.committed;
    }
  }
  for (std::size_t i = 2 * names.size(); i < replies.size(); ++i) info.members += replies[i].integer() > 0 ? 1 : 0;
  for (auto& [where, lag] : partitions) info.partitions.push_back(std::move(lag));  // sorted by topic, partition
  return info;
}

}  // namespace mq::engines::redis
