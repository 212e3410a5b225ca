#include "mq/message.hpp"

#include <algorithm>
#include <charconv>

#include "mq/names.hpp"

namespace mq {

void Headers::set(std::string_view name, std::string value) {
  remove(name);
  entries_.emplace_back(std::string(name), std::move(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(entries_, [&](const Entry& entry) { return entry.first == name; });
}

std::optional<std::string_view> Headers::find(std::string_view name) const {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->first == name) return std::string_view(it->second);
  }
  return std::nullopt;
}

int Message::attempt() const {
  const auto text = headers.find(names::attempt_header);
  if (!text) return 1;
  int value = 1;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  return error == std::errc() && value >= 1 ? value : 1;
}

}  // namespace mq
