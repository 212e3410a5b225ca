// Console: the state behind `mqctl serve`. A sampler thread reads topics and groups
// every interval and keeps the latest snapshot with per-topic message rates (from
// successive TopicInfo::messages); HTTP handlers read that snapshot and call through
// for dead letters and changes.
//
// Thread-safe: any number of HTTP worker threads may call any method at once.
// Dead-letter operations are serialised (Admin reads a group's dead letters through
// one internal reader group, so two reads at once would split the messages).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "../common.hpp"

namespace mqctl {

class Console {
 public:
  Console(mq::Client client, std::chrono::milliseconds interval);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // The latest snapshot: {"url", "sampled_at", "topics": [...], "groups": [...]}; a
  // topic has name, partitions, messages and rate (messages per second).
  json overview() const;
  // Prometheus text: the console's own gauges plus mq's process metrics.
  std::string metrics() const;

  // Dead letters of `group`, or of every group with a non-empty dead-letter topic.
  json dead_letters(const std::string& group, std::size_t limit);
  json all_dead_letters(std::size_t limit);
  std::size_t replay(const std::string& group, const mq::DeadLetterSelection& selection);
  std::size_t purge(const std::string& group, const mq::DeadLetterSelection& selection);

  void create_topic(const std::string& name, const mq::TopicOptions& options);
  void delete_topic(const std::string& name);

  // Takes a sample now (after a change, so the next read shows it).
  void refresh();

 private:
  struct Previous {
    std::uint64_t messages = 0;
    std::chrono::steady_clock::time_point when;
  };
  void run();
  void sample();

  mq::Client client_;
  mq::Admin admin_;
  const std::chrono::milliseconds interval_;

  mutable std::mutex mutex_;  // guards everything below
  json topics_ = json::array();
  json groups_ = json::array();
  std::int64_t sampled_at_ = 0;
  std::string sample_error_;  // the last sampling failure, shown on the page
  std::map<std::string, Previous> previous_;
  bool stopping_ = false;
  std::condition_variable wake_;

  std::mutex sample_mutex_;       // one sample at a time (sampler thread or refresh)
  std::mutex dead_letter_mutex_;  // one dead-letter read at a time, see above
  std::thread sampler_;
};

}  // namespace mqctl
