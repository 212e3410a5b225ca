// embedded://PATH — mq's own durable log in a directory, shared safely by several
// processes on one host. The format is docs/FORMAT.md; README.md in this folder maps mq's
// concepts onto it.
//
// Files: engine.cpp (append, topics cache, background work), admin.cpp, url.cpp,
// subscription.cpp + group_store.cpp (consumer groups across processes),
// delay_store.cpp (durable delay), and the storage below them: partition_log,
// partition_reader, recovery, segment, format, crc32c, file/errors.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.hpp"
#include "core/engine_registry.hpp"
#include "engines/embedded/topics.hpp"

namespace mq::engines::embedded {

class DelayStore;

// What the URL and Config say (url.cpp).
struct EngineSettings {
  DataDir dir;
  LogOptions log;
  int default_partitions = 4;
  bool auto_create_topics = true;
  milliseconds fsync_interval{100};
  milliseconds housekeeping_interval{1000};  // retention checks, mover election
};
EngineSettings settings_from(const core::EngineUrl& url, const Config& config);

class EmbeddedEngine final : public core::Engine, public std::enable_shared_from_this<EmbeddedEngine> {
 public:
  explicit EmbeddedEngine(EngineSettings settings);
  ~EmbeddedEngine() override;

  const core::Capabilities& capabilities() const override { return capabilities_; }
  void append(std::vector<core::Envelope> batch, Acks acks, core::AppendCallback done) override;
  std::unique_ptr<core::Subscription> subscribe(const core::SubscriptionSpec& spec) override;
  void create_topic(const std::string& name, const TopicOptions& options) override;
  void delete_topic(const std::string& name) override;
  std::vector<TopicInfo> list_topics() override;
  std::vector<std::string> list_groups() override;
  GroupInfo describe_group(const std::string& group) override;
  std::shared_ptr<core::DedupStore> dedup_store() override { return dedup_; }
  std::shared_ptr<core::RetryStore> retry_store() override { return retries_; }
  void close() override;

  const EngineSettings& settings() const { return settings_; }
  // The writer of a topic; creates the topic first when `create`. Null when it does not
  // exist (and is not created). Thread-safe.
  std::shared_ptr<TopicWriter> topic_writer(const std::string& name, bool create);
  // Appends `records` to one partition's lane (priority 0: the partition itself) and,
  // per the fsync policy and acks, waits until they are durable. Retries once if the
  // topic was deleted and recreated meanwhile.
  AppendOutcome append_to_partition(const std::string& topic, int partition, int priority,
                                    std::span<const RecordInput> records, bool durable);
  // Durability a send with these acks waits for.
  bool needs_sync(Acks acks) const;
  DelayStore& delay_store() { return *delay_; }

 private:
  void check_open() const;
  void forget_topic(const std::string& name);
  void housekeeping_loop();
  std::vector<std::shared_ptr<TopicWriter>> cached_writers();

  const EngineSettings settings_;
  const core::Capabilities capabilities_;
  std::mutex topics_mutex_;
  std::map<std::string, std::shared_ptr<TopicWriter>> topics_;
  std::unique_ptr<DelayStore> delay_;
  std::shared_ptr<core::DedupStore> dedup_;
  std::shared_ptr<core::RetryStore> retries_;
  std::atomic<bool> closed_{false};
  std::mutex housekeeping_mutex_;
  std::condition_variable housekeeping_wake_;
  bool stopping_ = false;
  std::thread housekeeper_;
};

}  // namespace mq::engines::embedded

namespace mq::engines {
std::shared_ptr<core::Engine> make_embedded_engine(const core::EngineUrl& url, const Config& config);
}
