#include "core/topic_pattern.hpp"

#include "mq/names.hpp"

namespace mq::core {
namespace {

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (true) {
    const auto dot = text.find('.', start);
    words.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return words;
}

// Classic topic-exchange matching: '*' is exactly one word, '#' zero or more.
bool match_words(const std::vector<std::string>& pattern, std::size_t p,
                 const std::vector<std::string_view>& topic, std::size_t t) {
  while (p < pattern.size()) {
    if (pattern[p] == "#") {
      if (p + 1 == pattern.size()) return true;
      for (std::size_t skip = t; skip <= topic.size(); ++skip) {
        if (match_words(pattern, p + 1, topic, skip)) return true;
      }
      return false;
    }
    if (t >= topic.size()) return false;
    if (pattern[p] != "*" && pattern[p] != topic[t]) return false;
    ++p;
    ++t;
  }
  return t == topic.size();
}

}  // namespace

TopicPattern::TopicPattern(std::string text) : text_(std::move(text)) {
  for (auto word : split_words(text_)) {
    if (word == "*" || word == "#") is_pattern_ = true;
    words_.emplace_back(word);
  }
}

bool TopicPattern::matches(std::string_view topic) const {
  if (!is_pattern_) return topic == text_;
  if (topic.starts_with(names::reserved_topic_prefix)) return false;
  return match_words(words_, 0, split_words(topic), 0);
}

TopicFilter::TopicFilter(const std::vector<std::string>& subscriptions) {
  patterns_.reserve(subscriptions.size());
  for (const auto& text : subscriptions) patterns_.emplace_back(text);
}

bool TopicFilter::matches(std::string_view topic) const {
  for (const auto& pattern : patterns_) {
    if (pattern.matches(topic)) return true;
  }
  return false;
}

std::vector<std::string> TopicFilter::names() const {
  std::vector<std::string> result;
  for (const auto& pattern : patterns_) {
    if (!pattern.is_pattern()) result.push_back(pattern.text());
  }
  return result;
}

}  // namespace mq::core
