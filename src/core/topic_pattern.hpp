// Subscription names and patterns: "order.created", "order.*" (one word), "order.#"
// (any number of words, including none).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mq::core {

class TopicPattern {
 public:
  // `text` must already be validated (validate_subscription).
  explicit TopicPattern(std::string text);

  bool is_pattern() const { return is_pattern_; }
  const std::string& text() const { return text_; }
  // Patterns never match reserved mq.* topics; a plain name matches only itself.
  bool matches(std::string_view topic) const;

 private:
  std::string text_;
  std::vector<std::string> words_;
  bool is_pattern_ = false;
};

// A member's whole subscription: matches if any of its patterns does.
class TopicFilter {
 public:
  TopicFilter() = default;  // matches nothing
  explicit TopicFilter(const std::vector<std::string>& subscriptions);
  bool matches(std::string_view topic) const;
  // The plain names (not patterns) in the subscription.
  std::vector<std::string> names() const;

 private:
  std::vector<TopicPattern> patterns_;
};

}  // namespace mq::core
