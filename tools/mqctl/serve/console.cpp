#include "console.hpp"

#include <sstream>

#include <mq/metrics.hpp>

namespace mqctl {
namespace {

constexpr std::string_view dead_letter_prefix = "mq.dlq.";

bool is_internal(const std::string& name) { return name.rfind("mq.", 0) == 0; }

// Prometheus label values: backslash, quote and newline escaped.
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

Console::Console(mq::Client client, std::chrono::milliseconds interval)
    : client_(std::move(client)), admin_(client_.admin()), interval_(interval) {
  sample();  // the first page load already has data
  sampler_ = std::thread([this] { run(); });
}

Console::~Console() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  sampler_.join();
}

void Console::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    sample();
    lock.lock();
  }
}

void Console::refresh() { sample(); }

void Console::sample() {
  std::lock_guard one(sample_mutex_);
  json topics = json::array();
  json groups = json::array();
  std::string error;
  const auto now = std::chrono::steady_clock::now();
  std::map<std::string, Previous> current;
  try {
    for (const auto& topic : admin_.list_topics(false)) {
      json entry = to_json(topic);
      double rate = 0;
      std::lock_guard lock(mutex_);
      if (auto it = previous_.find(topic.name); it != previous_.end()) {
        const double seconds = std::chrono::duration<double>(now - it->second.when).count();
        // Retention can shrink the count: a rate is never negative.
        if (seconds > 0 && topic.messages > it->second.messages) rate = (topic.messages - it->second.messages) / seconds;
      }
      entry["rate"] = rate;
      current[topic.name] = Previous{topic.messages, now};
      topics.push_back(std::move(entry));
    }
    for (const auto& name : admin_.list_groups()) {
      if (is_internal(name)) continue;
      groups.push_back(to_json(admin_.describe_group(name)));
    }
  } catch (const mq::Error& failure) {
    error = failure.what();  // keep the previous snapshot; the page shows the error
  }
  std::lock_guard lock(mutex_);
  if (!error.empty()) {
    sample_error_ = error;
    return;
  }
  sample_error_.clear();
  topics_ = std::move(topics);
  groups_ = std::move(groups);
  previous_ = std::move(current);
  sampled_at_ = epoch_ms(mq::Clock::now());
}

json Console::overview() const {
  std::lock_guard lock(mutex_);
  return {{"url", client_.url()}, {"engine", client_.capabilities().engine}, {"sampled_at", sampled_at_},
          {"error", sample_error_}, {"topics", topics_}, {"groups", groups_}};
}

std::string Console::metrics() const {
  std::ostringstream out;
  {
    std::lock_guard lock(mutex_);
    out << "# HELP mqctl_topic_messages Messages stored in a topic, as sampled by the console.\n"
        << "# TYPE mqctl_topic_messages gauge\n";
    for (const auto& t : topics_) {
      out << "mqctl_topic_messages{topic=\"" << label(t["name"]) << "\"} " << t["messages"].get<std::uint64_t>() << '\n';
    }
    out << "# HELP mqctl_topic_rate Messages per second added to a topic between the last two samples.\n"
        << "# TYPE mqctl_topic_rate gauge\n";
    for (const auto& t : topics_) {
      out << "mqctl_topic_rate{topic=\"" << label(t["name"]) << "\"} " << t["rate"].get<double>() << '\n';
    }
    out << "# HELP mqctl_group_lag Messages a group has not yet committed, per partition.\n"
        << "# TYPE mqctl_group_lag gauge\n";
    for (const auto& g : groups_) {
      for (const auto& p : g["partitions"]) {
        out << "mqctl_group_lag{group=\"" << label(g["name"]) << "\",topic=\"" << label(p["topic"])
            << "\",partition=\"" << p["partition"].get<int>() << "\"} " << p["lag"].get<std::int64_t>() << '\n';
      }
    }
    out << "# HELP mqctl_console_sample_ok 1 if the last sample of the engine succeeded.\n"
        << "# TYPE mqctl_console_sample_ok gauge\n"
        << "mqctl_console_sample_ok " << (sample_error_.empty() ? 1 : 0) << '\n';
  }
  out << mq::metrics::render();
  return out.str();
}

json Console::dead_letters(const std::string& group, std::size_t limit) {
  std::lock_guard lock(dead_letter_mutex_);
  json letters = json::array();
  for (const auto& letter : admin_.list_dead_letters(group, limit)) letters.push_back(to_json(letter));
  return {{"group", group}, {"dead_letters", std::move(letters)}};
}

json Console::all_dead_letters(std::size_t limit) {
  json groups = json::array();
  for (const auto& topic : admin_.list_topics(true)) {
    // Not filtered by topic.messages: some engines' counts are approximate and late
    // (RabbitMQ's stream statistics), and a dead-letter topic is read anyway.
    if (topic.name.rfind(dead_letter_prefix, 0) != 0) continue;
    auto entry = dead_letters(topic.name.substr(dead_letter_prefix.size()), limit);
    if (!entry["dead_letters"].empty()) groups.push_back(std::move(entry));
  }
  return {{"groups", std::move(groups)}};
}

std::size_t Console::replay(const std::string& group, const mq::DeadLetterSelection& selection) {
  std::size_t count = 0;
  {
    std::lock_guard lock(dead_letter_mutex_);
    count = admin_.replay_dead_letters(group, selection);
  }
  refresh();
  return count;
}

std::size_t Console::purge(const std::string& group, const mq::DeadLetterSelection& selection) {
  std::lock_guard lock(dead_letter_mutex_);
  return admin_.purge_dead_letters(group, selection);
}

void Console::create_topic(const std::string& name, const mq::TopicOptions& options) {
  admin_.create_topic(name, options);
  refresh();
}

void Console::delete_topic(const std::string& name) {
  admin_.delete_topic(name);
  refresh();
}

}  // namespace mqctl
