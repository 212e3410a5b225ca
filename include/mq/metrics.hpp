// Metrics: Prometheus text exposition of what mq did in this process (DESIGN.md,
// Observability; names in mq/names.hpp).
//
//   mq_messages_produced_total{topic,status}        status: ok | error
//   mq_messages_consumed_total{topic,group,status}  status: ok | retry | dead_letter |
//                                                   dropped | duplicate
//   mq_message_processing_duration_seconds{topic,group}  histogram of handler time
//   mq_queue_depth{topic}                           messages stored, per engine in use
//   mq_consumer_lag{topic,group,partition}          for every group consumed here
//   mq_connection_status{engine}                    1 reachable, 0 not
//
// Counters are process-wide and cheap (one atomic add on the hot path). Gauges are
// read from the engines when render() is called. Thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace mq::metrics {

// The text format (version 0.0.4) for a /metrics endpoint.
std::string render();

// The current value of one sample, 0 when there is none: counters and gauges by name,
// histograms as "<name>_count" and "<name>_sum". Labels must match exactly.
double value(std::string_view name, const std::map<std::string, std::string>& labels);

// Counting is on by default; off, the hot path skips it (benchmarks compare both).
void set_enabled(bool enabled);
bool enabled();

}  // namespace mq::metrics
