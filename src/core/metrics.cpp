#include "core/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "mq/metrics.hpp"
#include "mq/names.hpp"

namespace mq::core::metrics {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  std::string_view name;
  Labels labels;
  double value = 0;
};

struct Family {
  std::string_view name;
  std::string_view type;
  std::string_view help;
  std::vector<Sample> samples;
};

class Registry {
 public:
  static Registry& instance() {
    static Registry* registry = new Registry;  // never destroyed: hot paths keep pointers
    return *registry;
  }

  std::atomic<bool> enabled{true};

  Counter* produced(const std::string& topic, bool ok) {
    std::lock_guard lock(mutex_);
    auto& slot = produced_[{topic, ok}];
    if (!slot) slot = std::make_unique<Counter>();
    return slot.get();
  }

  ConsumedMetrics* consumed(const std::string& topic, const std::string& group) {
    std::lock_guard lock(mutex_);
    auto& slot = consumed_[{topic, group}];
    if (!slot) slot = std::make_unique<ConsumedMetrics>();
    return slot.get();
  }

  void register_engine(const std::shared_ptr<Engine>& engine) {
    std::lock_guard lock(mutex_);
    std::erase_if(engines_, [](const auto& known) { return known.expired(); });
    for (const auto& known : engines_) {
      if (known.lock() == engine) return;
    }
    engines_.push_back(engine);
  }

  void register_group(const std::shared_ptr<Engine>& engine, const std::string& group) {
    std::lock_guard lock(mutex_);
    std::erase_if(groups_, [](const auto& known) { return known.first.expired(); });
    for (const auto& [known, name] : groups_) {
      if (name == group && known.lock() == engine) return;
    }
    groups_.emplace_back(engine, group);
  }

  std::vector<Family> collect();

 private:
  void collect_counters(std::vector<Family>& families);
  void collect_gauges(std::vector<Family>& families);

  std::mutex mutex_;
  std::map<std::pair<std::string, bool>, std::unique_ptr<Counter>> produced_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<ConsumedMetrics>> consumed_;
  std::vector<std::weak_ptr<Engine>> engines_;
  std::vector<std::pair<std::weak_ptr<Engine>, std::string>> groups_;
};

double load(const std::atomic<std::uint64_t>& value) {
  return static_cast<double>(value.load(std::memory_order_relaxed));
}

void Registry::collect_counters(std::vector<Family>& families) {
  Family produced{names::metric_produced, "counter", "Messages sent, by outcome.", {}};
  Family consumed{names::metric_consumed, "counter", "Messages handled by consumer groups, by outcome.", {}};
  Family duration{names::metric_processing_duration, "histogram", "Time spent in message handlers.", {}};
  std::lock_guard lock(mutex_);
  for (const auto& [key, counter] : produced_) {
    produced.samples.push_back(
        {produced.name, {{"topic", key.first}, {"status", key.second ? "ok" : "error"}}, load(counter->value)});
  }
  for (const auto& [key, metrics] : consumed_) {
    const auto& [topic, group] = key;
    const std::pair<std::string_view, const Counter*> outcomes[] = {{"ok", &metrics->ok},
                                                                    {"retry", &metrics->retry},
                                                                    {"dead_letter", &metrics->dead_letter},
                                                                    {"dropped", &metrics->dropped},
                                                                    {"duplicate", &metrics->duplicate}};
    for (const auto& [status, counter] : outcomes) {
      consumed.samples.push_back(
          {consumed.name, {{"topic", topic}, {"group", group}, {"status", std::string(status)}}, load(counter->value)});
    }
    const auto& histogram = metrics->duration;
    double cumulative = 0;
    for (std::size_t i = 0; i < Histogram::bounds.size(); ++i) {
      cumulative += load(histogram.buckets[i]);
      duration.samples.push_back({"_bucket",
                                  {{"topic", topic}, {"group", group}, {"le", fmt::format("{}", Histogram::bounds[i])}},
                                  cumulative});
    }
    const double count = load(histogram.count);
    duration.samples.push_back({"_bucket", {{"topic", topic}, {"group", group}, {"le", "+Inf"}}, count});
    duration.samples.push_back({"_sum", {{"topic", topic}, {"group", group}}, load(histogram.sum_nanoseconds) / 1e9});
    duration.samples.push_back({"_count", {{"topic", topic}, {"group", group}}, count});
  }
  families.push_back(std::move(produced));
  families.push_back(std::move(consumed));
  families.push_back(std::move(duration));
}

// Asks each engine in use; an engine that cannot answer is reported as disconnected.
void Registry::collect_gauges(std::vector<Family>& families) {
  std::vector<std::shared_ptr<Engine>> engines;
  std::vector<std::pair<std::shared_ptr<Engine>, std::string>> groups;
  {
    std::lock_guard lock(mutex_);
    for (const auto& engine : engines_) {
      if (auto live = engine.lock()) engines.push_back(std::move(live));
    }
    for (const auto& [engine, group] : groups_) {
      if (auto live = engine.lock()) groups.emplace_back(std::move(live), group);
    }
  }
  Family depth{names::metric_queue_depth, "gauge", "Messages stored per topic.", {}};
  Family lag{names::metric_consumer_lag, "gauge", "Messages not yet committed by a group, per partition.", {}};
  Family connection{names::metric_connection_status, "gauge", "1 when the engine answers, 0 when it does not.", {}};
  std::map<std::string, bool> connected;  // per engine kind: all of its instances answer
  for (const auto& engine : engines) {
    const auto& kind = engine->capabilities().engine;
    try {
      for (const auto& topic : engine->list_topics()) {
        depth.samples.push_back({depth.name, {{"topic", topic.name}}, static_cast<double>(topic.messages)});
      }
      connected.emplace(kind, true);
    } catch (const std::exception&) {
      connected[kind] = false;
    }
  }
  for (const auto& [engine, group] : groups) {
    try {
      for (const auto& partition : engine->describe_group(group).partitions) {
        lag.samples.push_back({lag.name,
                               {{"topic", partition.topic}, {"group", group}, {"partition", std::to_string(partition.partition)}},
                               static_cast<double>(partition.lag())});
      }
    } catch (const std::exception&) {
      connected[engine->capabilities().engine] = false;
    }
  }
  for (const auto& [kind, up] : connected) connection.samples.push_back({connection.name, {{"engine", kind}}, up ? 1.0 : 0.0});
  families.push_back(std::move(depth));
  families.push_back(std::move(lag));
  families.push_back(std::move(connection));
}

std::vector<Family> Registry::collect() {
  std::vector<Family> families;
  collect_counters(families);
  collect_gauges(families);
  return families;
}

std::string escape_label(std::string_view value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '"') escaped += "\\\"";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  return escaped;
}

// A histogram's samples carry only their suffix ("_bucket"); others their full name.
std::string sample_name(const Family& family, const Sample& sample) {
  return sample.name.starts_with('_') ? std::string(family.name) + std::string(sample.name) : std::string(sample.name);
}

}  // namespace

namespace {

// Histogram::bounds in nanoseconds: observe() compares integers, smallest bound first
// (handlers are mostly fast, so the first comparison usually decides).
constexpr auto bounds_nanoseconds = [] {
  std::array<std::int64_t, Histogram::bounds.size()> result{};
  for (std::size_t i = 0; i < result.size(); ++i) {
    result[i] = static_cast<std::int64_t>(Histogram::bounds[i] * 1e9 + 0.5);
  }
  return result;
}();

}  // namespace

std::size_t Histogram::bucket_of(std::chrono::nanoseconds duration) {
  const std::int64_t nanoseconds = duration.count();
  for (std::size_t bucket = 0; bucket < bounds_nanoseconds.size(); ++bucket) {
    if (nanoseconds <= bounds_nanoseconds[bucket]) return bucket;  // the first bound >= the value
  }
  return bounds_nanoseconds.size();
}

void Histogram::observe(std::chrono::nanoseconds duration) {
  const auto bucket = bucket_of(duration);
  if (bucket < buckets.size()) buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  count.fetch_add(1, std::memory_order_relaxed);
  sum_nanoseconds.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)),
                            std::memory_order_relaxed);
}

void WorkerTally::flush() {
  if (count_ == 0) return;
  auto& histogram = target_->duration;
  for (std::size_t i = 0; i < histogram.buckets.size(); ++i) {
    if (buckets_[i]) histogram.buckets[i].fetch_add(buckets_[i], std::memory_order_relaxed);
  }
  histogram.count.fetch_add(count_, std::memory_order_relaxed);
  histogram.sum_nanoseconds.fetch_add(sum_nanoseconds_, std::memory_order_relaxed);
  if (ok_) target_->ok.add(ok_);
  count_ = 0;
  ok_ = 0;
  sum_nanoseconds_ = 0;
  buckets_ = {};
}


bool enabled() { return Registry::instance().enabled.load(std::memory_order_relaxed); }
Counter* produced(const std::string& topic, bool ok) { return Registry::instance().produced(topic, ok); }
ConsumedMetrics* consumed(const std::string& topic, const std::string& group) {
  return Registry::instance().consumed(topic, group);
}
void register_engine(const std::shared_ptr<Engine>& engine) { Registry::instance().register_engine(engine); }
void register_group(const std::shared_ptr<Engine>& engine, const std::string& group) {
  Registry::instance().register_group(engine, group);
}

}  // namespace mq::core::metrics

namespace mq::metrics {

std::string render() {
  std::string text;
  for (const auto& family : core::metrics::Registry::instance().collect()) {
    fmt::format_to(std::back_inserter(text), "# HELP {} {}\n# TYPE {} {}\n", family.name, family.help, family.name,
                   family.type);
    for (const auto& sample : family.samples) {
      text += core::metrics::sample_name(family, sample);
      if (!sample.labels.empty()) {
        text += '{';
        for (std::size_t i = 0; i < sample.labels.size(); ++i) {
          fmt::format_to(std::back_inserter(text), "{}{}=\"{}\"", i ? "," : "", sample.labels[i].first,
                         core::metrics::escape_label(sample.labels[i].second));
        }
        text += '}';
      }
      fmt::format_to(std::back_inserter(text), " {}\n", sample.value);
    }
  }
  return text;
}

double value(std::string_view name, const std::map<std::string, std::string>& labels) {
  for (const auto& family : core::metrics::Registry::instance().collect()) {
    if (!name.starts_with(family.name)) continue;
    for (const auto& sample : family.samples) {
      if (core::metrics::sample_name(family, sample) != name) continue;
      const std::map<std::string, std::string> sample_labels(sample.labels.begin(), sample.labels.end());
      if (sample_labels == labels) return sample.value;
    }
  }
  return 0;
}

void set_enabled(bool enabled) { core::metrics::Registry::instance().enabled.store(enabled); }
bool enabled() { return core::metrics::enabled(); }

}  // namespace mq::metrics
