// Admin: topics and consumer groups of one engine.
//
// Thread-safe. Cheap to create; holds a reference to the client's engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mq/message.hpp"
#include "mq/options.hpp"

namespace mq {

namespace core {
class Engine;
}

struct TopicOptions {
  int partitions = 0;            // 0: Config::default_partitions
  milliseconds retention{0};     // 0: the engine's default
  std::uint64_t retention_bytes = 0;  // per partition; 0: the engine's default
};

struct TopicInfo {
  std::string name;
  int partitions = 0;
  std::uint64_t messages = 0;  // stored and not yet removed by retention (approximate)
};

struct PartitionLag {
  std::string topic;
  int partition = 0;
  std::int64_t committed = 0;  // next offset the group will read
  std::int64_t end = 0;        // next offset a producer will write
  std::int64_t lag() const { return end > committed ? end - committed : 0; }
};

struct GroupInfo {
  std::string name;
  int members = 0;  // live members this process can see (engine-specific)
  std::vector<PartitionLag> partitions;
  std::int64_t total_lag() const;
};

// A message that failed for a group and waits in its dead-letter topic (mq.dlq.<group>).
struct DeadLetter {
  Message message;              // as stored: original id, key, value, user headers
  std::string original_topic;
  std::string error;            // the last failure's text
  int attempts = 0;
  TimePoint failed_at{};
};

// Which dead letters replay/purge act on: any listed id, any older than older_than
// (when set), or all.
struct DeadLetterSelection {
  std::vector<std::string> ids;
  milliseconds older_than{0};
  bool all = false;

  static DeadLetterSelection everything() { return DeadLetterSelection{{}, milliseconds(0), true}; }
  static DeadLetterSelection by_ids(std::vector<std::string> ids) { return DeadLetterSelection{std::move(ids), milliseconds(0), false}; }
  static DeadLetterSelection older_than_age(milliseconds age) { return DeadLetterSelection{{}, age, false}; }
  bool matches(const DeadLetter& letter, TimePoint now) const;
};

class Admin {
 public:
  // Topic names follow DESIGN.md; "mq." names are reserved (invalid_argument).
  void create_topic(const std::string& name, TopicOptions options = {});
  // Deletes the topic and its data. not_found if it does not exist.
  void delete_topic(const std::string& name);
  // Sorted by name. Reserved mq.* topics are listed only with include_internal.
  std::vector<TopicInfo> list_topics(bool include_internal = false);
  std::vector<std::string> list_groups();
  // Committed offset, end and lag per partition of every topic the group has committed.
  GroupInfo describe_group(const std::string& group);

  // Dead letters of `group`, oldest first, at most `limit`. Reading, replaying and
  // purging go through one internal reader group per group (mq.dlq-reader.<group>);
  // run them from one admin process at a time.
  std::vector<DeadLetter> list_dead_letters(const std::string& group, std::size_t limit = 10'000);
  // Sends the selected dead letters back to their original topics (same id, key, value
  // and user headers) and removes them from the list. Returns how many.
  std::size_t replay_dead_letters(const std::string& group, const DeadLetterSelection& selection);
  // Removes the selected dead letters without replaying them. Returns how many.
  std::size_t purge_dead_letters(const std::string& group, const DeadLetterSelection& selection);

 private:
  friend class Client;
  explicit Admin(std::shared_ptr<core::Engine> engine) : engine_(std::move(engine)) {}
  std::shared_ptr<core::Engine> engine_;
};

}  // namespace mq
