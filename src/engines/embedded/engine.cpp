#include "engines/embedded/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "core/logging.hpp"
#include "core/partitioner.hpp"
#include "engines/embedded/dedup_store.hpp"
#include "engines/embedded/retry_store.hpp"
#include "engines/embedded/delay_store.hpp"
#include "mq/names.hpp"

namespace mq::engines::embedded {

EmbeddedEngine::EmbeddedEngine(EngineSettings settings)
    : settings_(std::move(settings)),
      capabilities_{.engine = "embedded", .durable = true, .multi_process = true, .native_delay = true,
                    .priority = true, .offsets = true, .server = false, .durable_retry = true} {
  open_data_dir(settings_.dir, settings_.log.fsync == FsyncPolicy::always);
  delay_ = std::make_unique<DelayStore>(*this);
  dedup_ = std::make_shared<DedupFiles>(settings_.dir);
  retries_ = std::make_shared<RetryFiles>(settings_.dir);
  housekeeper_ = std::thread([this] { housekeeping_loop(); });
}

EmbeddedEngine::~EmbeddedEngine() { close(); }

void EmbeddedEngine::check_open() const {
  if (closed_.load(std::memory_order_acquire)) {
    throw Error(ErrorCode::closed, fmt::format("embedded engine at {} is closed", settings_.dir.root));
  }
}

bool EmbeddedEngine::needs_sync(Acks acks) const {
  return acks == Acks::all || (acks == Acks::leader && settings_.log.fsync == FsyncPolicy::always);
}

std::shared_ptr<TopicWriter> EmbeddedEngine::topic_writer(const std::string& name, bool create) {
  {
    std::lock_guard lock(topics_mutex_);
    if (auto it = topics_.find(name); it != topics_.end()) return it->second;
  }
  auto settings = read_topic_settings(settings_.dir, name);
  if (!settings && create) {
    TopicSettings wanted;
    wanted.partitions = settings_.default_partitions;
    create_topic_dir(settings_.dir, name, wanted, settings_.log.fsync == FsyncPolicy::always);
    settings = read_topic_settings(settings_.dir, name);  // ours, or the race winner's
  }
  if (!settings) return nullptr;
  std::lock_guard lock(topics_mutex_);
  auto [it, inserted] = topics_.try_emplace(name);
  if (inserted) it->second = std::make_shared<TopicWriter>(settings_.dir, name, *settings, settings_.log);
  return it->second;
}

void EmbeddedEngine::forget_topic(const std::string& name) {
  std::lock_guard lock(topics_mutex_);
  topics_.erase(name);
}

AppendOutcome EmbeddedEngine::append_to_partition(const std::string& topic, int partition, int priority,
                                                  std::span<const RecordInput> records, bool durable) {
  for (int attempt = 0;; ++attempt) {
    auto writer = topic_writer(topic, false);
    if (!writer) return {Status(ErrorCode::not_found, fmt::format("topic '{}' does not exist", topic))};
    if (partition >= writer->partitions()) {
      return {Status(ErrorCode::invalid_argument,
                     fmt::format("topic '{}' has {} partitions; partition {} does not exist", topic,
                                 writer->partitions(), partition))};
    }
    PartitionLog* lane = nullptr;
    try {
      lane = &writer->log(partition, priority);  // creates a priority lane on first use
    } catch (const Error& error) {
      if (error.code() == ErrorCode::not_found && attempt == 0) {
        forget_topic(topic);
        continue;
      }
      return {error.status()};
    }
    PartitionLog& log = *lane;
    AppendOutcome outcome = durable ? log.append_durably(records) : log.append(records);
    if (outcome.status.code() == ErrorCode::not_found && attempt == 0) {
      forget_topic(topic);  // deleted (and maybe recreated) by another process: look again
      continue;
    }
    return outcome;
  }
}

void EmbeddedEngine::append(std::vector<core::Envelope> batch, Acks acks, core::AppendCallback done) {
  std::vector<core::AppendResult> results(batch.size());
  if (closed_.load(std::memory_order_acquire)) {
    for (auto& result : results) result.status = Status(ErrorCode::closed, "embedded engine is closed");
    return done(std::move(results));
  }
  const bool durable = needs_sync(acks);
  const TimePoint now = Clock::now();
  // Envelopes by destination: (topic, partition, priority lane), or the delay store for
  // future ones. Topics are views of the batch's own strings (not copied per message).
  std::map<std::tuple<std::string_view, int, int>, std::vector<std::size_t>> by_partition;
  std::vector<std::size_t> delayed;
  // The previous message's topic and writer: a batch usually goes to one topic, so the
  // lookup (a lock and a map search) is made once per topic run, not per message.
  const std::string* writer_topic = nullptr;
  std::shared_ptr<TopicWriter> writer;
  // Keyless messages of one topic run share one partition (TopicWriter::begin_keyless);
  // each run is ended once the whole batch is written, also when something throws.
  struct KeylessRun {
    std::shared_ptr<TopicWriter> writer;
    int partition;
    std::size_t messages = 0;
  };
  struct KeylessRuns {
    std::vector<KeylessRun> runs;
    ~KeylessRuns() {
      for (auto& run : runs) run.writer->end_keyless(run.partition, run.messages);
    }
  } keyless;
  KeylessRun* keyless_run = nullptr;  // of the current topic run
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Message& message = batch[i].message;
    try {
      if (!writer || *writer_topic != message.topic) {
        // Internal topics (dead letters, retries) are always created on demand.
        const bool create = settings_.auto_create_topics || message.topic.starts_with(names::reserved_topic_prefix);
        writer = topic_writer(message.topic, create);
        writer_topic = &message.topic;
        keyless_run = nullptr;
      }
      if (!writer) {
        results[i].status = Status(ErrorCode::not_found, fmt::format("topic '{}' does not exist "
                                                                     "(auto_create_topics is off)", message.topic));
        continue;
      }
      int partition = message.partition;
      if (partition >= writer->partitions()) {
        results[i].status = Status(ErrorCode::invalid_argument,
                                   fmt::format("topic '{}' has {} partitions; partition {} does not exist",
                                               message.topic, writer->partitions(), partition));
        continue;
      }
      if (partition < 0 && message.key) partition = core::partition_for_key(*message.key, writer->partitions());
      if (partition < 0) {
        if (!keyless_run) keyless_run = &keyless.runs.emplace_back(KeylessRun{writer, writer->begin_keyless()});
        partition = keyless_run->partition;
        ++keyless_run->messages;
      }
      message.partition = partition;
      results[i].receipt.partition = partition;
      if (batch[i].due > now) {
        results[i].receipt.due = batch[i].due;
        delayed.push_back(i);
      } else {
        by_partition[{message.topic, partition, std::clamp(message.priority, 0, max_priority)}].push_back(i);
      }
    } catch (const Error& error) {
      results[i].status = error.status();
    }
  }
  for (const auto& [destination, indexes] : by_partition) {
    std::vector<RecordInput> records;
    for (auto i : indexes) records.push_back(RecordInput{&batch[i].message, nullptr, std::nullopt});
    const auto& [topic, partition, priority] = destination;
    const auto outcome = append_to_partition(std::string(topic), partition, priority, records, durable);
    for (std::size_t n = 0; n < indexes.size(); ++n) {
      auto& result = results[indexes[n]];
      result.status = outcome.status;
      if (outcome.status.ok()) result.receipt.offset = outcome.base_offset + static_cast<std::int64_t>(n);
    }
  }
  if (!delayed.empty()) {
    std::vector<DelayTarget> targets;
    targets.reserve(delayed.size());
    for (auto i : delayed) targets.push_back(DelayTarget{batch[i].due, batch[i].message.topic, batch[i].message.partition});
    std::vector<RecordInput> records;
    for (std::size_t n = 0; n < delayed.size(); ++n) {
      records.push_back(RecordInput{&batch[delayed[n]].message, &targets[n], std::nullopt});
    }
    const Status status = delay_->add(records, durable);
    for (auto i : delayed) results[i].status = status;
  }
  // The batch is ours and written: its strings move to the receipts (an id copied per
  // message was an allocation, a copy and a free: ~10% of a send_batch's instructions).
  for (std::size_t i = 0; i < batch.size(); ++i) {
    results[i].receipt.topic = std::move(batch[i].message.topic);
    results[i].receipt.id = std::move(batch[i].message.id);
  }
  done(std::move(results));
}

std::vector<std::shared_ptr<TopicWriter>> EmbeddedEngine::cached_writers() {
  std::lock_guard lock(topics_mutex_);
  std::vector<std::shared_ptr<TopicWriter>> writers;
  for (auto& [name, writer] : topics_) writers.push_back(writer);
  return writers;  // held by the caller while it uses their logs (forget_topic may drop them)
}

void EmbeddedEngine::housekeeping_loop() {
  using std::chrono::steady_clock;
  const bool interval = settings_.log.fsync == FsyncPolicy::interval;
  const auto tick = interval ? std::min(settings_.fsync_interval, settings_.housekeeping_interval)
                             : settings_.housekeeping_interval;
  auto next_retention = steady_clock::now();
  std::unique_lock lock(housekeeping_mutex_);
  while (!stopping_) {
    housekeeping_wake_.wait_for(lock, tick, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    try {
      const auto writers = cached_writers();
      const bool retention_due = steady_clock::now() >= next_retention;
      for (auto& writer : writers) {
        for (auto* log : writer->open_logs()) {
          if (interval) {
            if (auto status = log->sync_written(); !status.ok()) core::log(LogLevel::error, "embedded: {}", status.to_string());
          }
          if (retention_due) log->apply_retention(Clock::now());
        }
      }
      if (retention_due) next_retention = steady_clock::now() + settings_.housekeeping_interval;
    } catch (const std::exception& error) {
      core::log(LogLevel::warning, "embedded: housekeeping: {}", error.what());
    }
    lock.lock();
  }
}

void EmbeddedEngine::close() {
  if (closed_.exchange(true)) return;
  {
    std::lock_guard lock(housekeeping_mutex_);
    stopping_ = true;
  }
  housekeeping_wake_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  delay_->stop();
  // Whatever the interval policy has not synced yet is synced now.
  if (settings_.log.fsync != FsyncPolicy::never) {
    for (auto& writer : cached_writers()) {
      for (auto* log : writer->open_logs()) log->sync_written();
    }
  }
}

}  // namespace mq::engines::embedded

namespace mq::engines {
std::shared_ptr<core::Engine> make_embedded_engine(const core::EngineUrl& url, const Config& config) {
  return std::make_shared<embedded::EmbeddedEngine>(embedded::settings_from(url, config));
}
}  // namespace mq::engines
