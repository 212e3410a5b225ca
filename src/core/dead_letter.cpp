#include "core/dead_letter.hpp"

#include <chrono>

#include "core/message_id.hpp"
#include "mq/names.hpp"

namespace mq::core {

Message make_dead_letter(const Message& failed, std::string_view group, std::string_view error, int attempts) {
  Message letter;
  letter.topic = names::dead_letter_topic(group);
  letter.key = failed.key;
  letter.value = failed.value;
  letter.id = failed.id;
  letter.timestamp = failed.timestamp;
  letter.priority = failed.priority;
  for (const auto& [name, value] : failed.headers) {
    if (!std::string_view(name).starts_with(names::header_prefix)) letter.headers.add(name, value);
  }
  // Error texts can be long (stack traces): bound what goes into a header.
  constexpr std::size_t max_error_bytes = 4096;
  letter.headers.set(names::original_topic_header, failed.topic);
  letter.headers.set(names::original_partition_header, std::to_string(failed.partition));
  letter.headers.set(names::original_offset_header, std::to_string(failed.offset));
  letter.headers.set(names::error_header, std::string(error.substr(0, max_error_bytes)));
  letter.headers.set(names::attempt_header, std::to_string(attempts));
  letter.headers.set(names::group_header, std::string(group));
  letter.headers.set(names::dead_letter_id_header, new_message_id());
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch());
  letter.headers.set(names::failed_at_header, std::to_string(now.count()));
  return letter;
}

Message replay_from_dead_letter(const Message& dead_letter) {
  Message message;
  message.topic = std::string(dead_letter.headers.find(names::original_topic_header).value_or(""));
  message.key = dead_letter.key;
  message.value = dead_letter.value;
  message.id = dead_letter.id;
  message.priority = dead_letter.priority;
  for (const auto& [name, value] : dead_letter.headers) {
    if (!std::string_view(name).starts_with(names::header_prefix)) message.headers.add(name, value);
  }
  return message;
}

}  // namespace mq::core
