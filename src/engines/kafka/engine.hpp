// kafka://HOST:PORT[,HOST:PORT...] — Apache Kafka through librdkafka (C API). README.md in
// this folder maps mq's concepts onto Kafka and lists what the tests (run against
// librdkafka's mock cluster) do and do not cover.
//
// Files: engine.cpp (producing, open/close), subscription.cpp (consumer groups),
// admin.cpp (topics, groups, lag), groups.cpp (the group registry), url.cpp (URL and Config to librdkafka properties),
// handles.cpp (librdkafka handles and logging), errors.cpp (librdkafka errors to mq's).
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/coarse_clock.hpp"
#include "core/engine.hpp"
#include "core/engine_registry.hpp"

namespace mq::engines::kafka {

// librdkafka configuration properties, applied in order (a later one wins).
using Properties = std::vector<std::pair<std::string, std::string>>;

// What the URL and Config say (url.cpp).
struct EngineSettings {
  std::string bootstrap;     // "host:port,host:port": no credentials, safe to show
  std::string redacted_url;  // for messages
  std::string client_id = "mq";
  Properties security;       // from the URL's user:password (SASL)
  Properties user;           // URL query and Config "kafka.*" properties, applied last
  int default_partitions = 4;
  bool auto_create_topics = true;
  milliseconds connect_timeout{5'000};
  milliseconds send_timeout{30'000};
  std::size_t max_message_bytes = 1 << 20;
};
EngineSettings settings_from(const core::EngineUrl& url, const Config& config);
// Full property lists per kind of handle (url.cpp).
Properties producer_properties(const EngineSettings& settings, Acks acks);
Properties consumer_properties(const EngineSettings& settings, const std::string& group, StartPosition start);
Properties admin_properties(const EngineSettings& settings);
// The subscription string librdkafka takes for an mq name or pattern: the name itself,
// or a "^..." regular expression matching what core::TopicPattern matches.
std::string subscription_regex(const std::string& entry);

// errors.cpp: the one place where librdkafka's error codes become mq's.
ErrorCode code_for(rd_kafka_resp_err_t error);
Status status_for(rd_kafka_resp_err_t error, std::string_view what);
Error error_for(rd_kafka_resp_err_t error, std::string_view what);

// handles.cpp
struct HandleDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
// Builds a handle from `properties` (a bad property is invalid_argument naming it, never
// showing a secret value); `configure` adds callbacks to the conf first. librdkafka's
// own log lines go to mq's logger.
Handle make_handle(rd_kafka_type_t type, const Properties& properties,
                   const std::function<void(rd_kafka_conf_t*)>& configure, const std::string& redacted_url);
// Partitions of every topic in the cluster that has no error, by name (Kafka's own
// "__" topics left out). Throws ErrorCode::connection when metadata does not come.
std::map<std::string, int> cluster_topics(rd_kafka_t* handle, milliseconds timeout);

// A producer handle for one acks level, with the thread that serves its delivery reports.
class ProducerHandle {
 public:
  ProducerHandle(const EngineSettings& settings, Acks acks);
  ~ProducerHandle();  // purges what is still queued (each gets its report), then destroys
  rd_kafka_t* get() const { return handle_.get(); }
  void flush(milliseconds timeout);
  // librdkafka's handle of `name`, made on first use and kept until this producer goes:
  // a send by handle skips the lookup by name (a lock and a search) that every send by
  // name pays. Thread-safe.
  rd_kafka_topic_t* topic(const std::string& name);

 private:
  Handle handle_;
  std::mutex topics_mutex_;
  std::map<std::string, rd_kafka_topic_t*> topics_;
  std::atomic<bool> stopping_{false};
  std::thread poller_;
};

class KafkaEngine final : public core::Engine, public std::enable_shared_from_this<KafkaEngine> {
 public:
  // Connects (a metadata request bounded by Config::connect_timeout) or throws
  // ErrorCode::connection naming the brokers.
  explicit KafkaEngine(EngineSettings settings);
  ~KafkaEngine() override;

  const core::Capabilities& capabilities() const override { return capabilities_; }
  void append(std::vector<core::Envelope> batch, Acks acks, core::AppendCallback done) override;
  std::unique_ptr<core::Subscription> subscribe(const core::SubscriptionSpec& spec) override;
  void create_topic(const std::string& name, const TopicOptions& options) override;
  void delete_topic(const std::string& name) override;
  std::vector<TopicInfo> list_topics() override;
  std::vector<std::string> list_groups() override;
  GroupInfo describe_group(const std::string& group) override;
  std::shared_ptr<core::RetryStore> retry_store() override;
  void close() override;

  const EngineSettings& settings() const { return settings_; }
  void check_open() const;
  // Partitions by topic, from a metadata request (throws connection on failure).
  std::map<std::string, int> topics() { return cluster_topics(admin_.get(), settings_.connect_timeout); }
  // Live members of `group` in this process (subscription.cpp registers them).
  void member_joined(const std::string& group, int delta);
  // Joins of mq's own groups (mq.scheduler, dead-letter readers) in this process that
  // have not had their first assignment yet: a user group's subscribe waits for them
  // too (subscription.cpp). Thread-safe.
  void reserved_join_started() { reserved_joins_.fetch_add(1, std::memory_order_acq_rel); }
  void reserved_join_done() { reserved_joins_.fetch_sub(1, std::memory_order_acq_rel); }
  bool reserved_joins_pending() const { return reserved_joins_.load(std::memory_order_acquire) > 0; }
  // ok when the topic exists (creating it when auto-create allows), else why not.
  Status ensure_topic(const std::string& topic);
  // Records `group` in the group registry (groups.cpp) once per engine; never throws.
  void register_group(const std::string& group);
  // Calls `each` for every record of partition 0 of `topic` from offset `from` to the
  // current end, oldest first, through a consumer that never joins a group, and returns
  // the offset after the last one read (`from` when the topic does not exist yet).
  // Throws connection or timeout, bounded by connect_timeout. groups.cpp.
  std::int64_t read_topic(const std::string& topic, std::int64_t from,
                          const std::function<void(const rd_kafka_message_t*)>& each);
  // Appends one record to partition 0 of a one-partition internal topic (created,
  // compacted on a real broker, when missing); a null `value` is a tombstone. With
  // `wait`, returns once stored (throws otherwise). groups.cpp.
  void append_internal(const std::string& topic, const std::string& key, const std::string* value, bool wait);

 private:
  ProducerHandle& producer_for(Acks acks);
  // Waits until metadata shows `topic` with at least `partitions` (or, for 0, gone).
  bool wait_for_topic(const std::string& topic, int partitions, milliseconds timeout);
  // The mock cluster (librdkafka 2.0.2) has no CreateTopics/DeleteTopics: mq_kafka_mock
  // takes these requests on its control topic instead (admin.cpp, README.md).
  void mock_control(const std::string& command);
  // Every group recorded in the registry (groups.cpp), sorted.
  std::vector<std::string> registered_groups();

  const EngineSettings settings_;
  const core::Capabilities capabilities_;
  Handle admin_;  // metadata, admin requests, control messages
  // Shared by append() calls, exclusive for close(): no append uses a producer handle
  // that close() destroys.
  std::shared_mutex lifecycle_;
  std::mutex mutex_;
  std::map<Acks, std::unique_ptr<ProducerHandle>> producers_;
  std::set<std::string> known_topics_;
  std::map<std::string, int> members_;
  std::set<std::string> registered_groups_;
  std::shared_ptr<core::RetryStore> retries_;  // made by the first retry_store() call
  std::atomic<int> reserved_joins_{0};
  std::atomic<bool> admin_api_missing_{false};
  std::atomic<bool> closed_{false};
};

// The control topic mq_kafka_mock (tools/kafka-mock) reads admin requests from.
inline constexpr const char* mock_control_topic = "__mq_mock_admin";
// The group registry (groups.cpp): one record per group an mq member joined.
inline constexpr const char* group_registry_topic = "mq.groups";

}  // namespace mq::engines::kafka

namespace mq::engines {
std::shared_ptr<core::Engine> make_kafka_engine(const core::EngineUrl& url, const Config& config);
}
