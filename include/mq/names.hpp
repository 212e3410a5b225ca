// Reserved names: headers, topics and metric names mq itself uses.
//
// Every place in mq that reads or writes one of these uses the constant here; no other
// file spells them out. Names starting with "mq." (topics) and "mq-" (headers) are
// reserved: users cannot create such topics and patterns never match them.
#pragma once

#include <string>
#include <string_view>

namespace mq::names {

// Reserved header names (all lower case; header names are compared case-sensitively).
inline constexpr std::string_view header_prefix = "mq-";
inline constexpr std::string_view attempt_header = "mq-attempt";            // 1 on first delivery
inline constexpr std::string_view original_topic_header = "mq-original-topic";
inline constexpr std::string_view original_partition_header = "mq-original-partition";
inline constexpr std::string_view original_offset_header = "mq-original-offset";
inline constexpr std::string_view error_header = "mq-error";                // last failure text
inline constexpr std::string_view failed_at_header = "mq-failed-at";        // ms since epoch
inline constexpr std::string_view due_header = "mq-due";                    // ms since epoch
inline constexpr std::string_view priority_header = "mq-priority";          // "0".."9"
inline constexpr std::string_view group_header = "mq-group";
// Each dead-lettering gets its own id, so that resolving one (replay, purge) never
// hides a later dead letter of the same message.
inline constexpr std::string_view dead_letter_id_header = "mq-dead-letter-id";
// A marker in a dead-letter topic: the dead letter with this mq-dead-letter-id was
// replayed or purged (log engines cannot delete single messages).
inline constexpr std::string_view resolved_header = "mq-resolved";
// W3C trace context, and the x-trace-id compatibility header the Go services use.
inline constexpr std::string_view traceparent_header = "traceparent";
inline constexpr std::string_view trace_id_header = "x-trace-id";

// Reserved topics.
inline constexpr std::string_view reserved_topic_prefix = "mq.";
inline constexpr std::string_view dead_letter_prefix = "mq.dlq.";
inline constexpr std::string_view retry_prefix = "mq.retry.";
inline constexpr std::string_view delay_topic = "mq.delay";

// The dead-letter topic of a consumer group: one per group, for failures from every topic.
inline std::string dead_letter_topic(std::string_view group) {
  return std::string(dead_letter_prefix) + std::string(group);
}
// The internal group through which Admin reads a group's dead letters.
inline std::string dead_letter_reader_group(std::string_view group) {
  return "mq.dlq-reader." + std::string(group);
}
inline std::string retry_topic(std::string_view group) {
  return std::string(retry_prefix) + std::string(group);
}

// Prometheus metric names (DESIGN.md, Observability).
inline constexpr std::string_view metric_produced = "mq_messages_produced_total";
inline constexpr std::string_view metric_consumed = "mq_messages_consumed_total";
inline constexpr std::string_view metric_processing_duration =
    "mq_message_processing_duration_seconds";
inline constexpr std::string_view metric_queue_depth = "mq_queue_depth";
inline constexpr std::string_view metric_consumer_lag = "mq_consumer_lag";
inline constexpr std::string_view metric_connection_status = "mq_connection_status";

}  // namespace mq::names
