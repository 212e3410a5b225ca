#include "mq/message.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>

#include "core/same_text.hpp"
#include "mq/names.hpp"

namespace mq {

void Headers::set(std::string_view name, std::string value) {
  if (!empty()) remove(name);  // per delivery (the attempt header), often on no headers
  own_.emplace_back(std::string(name), std::move(value));
}

void Headers::unshare() {
  if (!shared_) return;
  std::vector<Entry> entries;
  entries.reserve(shared_->size() + own_.size() + 1);
  entries.insert(entries.end(), shared_->begin(), shared_->end());
  std::move(own_.begin(), own_.end(), std::back_inserter(entries));
  own_ = std::move(entries);
  shared_.reset();
}

void Headers::remove(std::string_view name) {
  const auto matches = [&](const Entry& entry) { return core::same_text(entry.first, name); };
  // The shared block is copied only when one of its entries goes.
  if (shared_ && std::any_of(shared_->begin(), shared_->end(), matches)) unshare();
  std::erase_if(own_, matches);
}

std::optional<std::string_view> Headers::find(std::string_view name) const {
  // Last first: own entries come after the shared ones.
  for (auto it = own_.rbegin(); it != own_.rend(); ++it) {
    if (core::same_text(it->first, name)) return std::string_view(it->second);
  }
  if (shared_) {
    for (auto it = shared_->rbegin(); it != shared_->rend(); ++it) {
      if (core::same_text(it->first, name)) return std::string_view(it->second);
    }
  }
  return std::nullopt;
}

Headers::Shared Headers::share() & {
  if (own_.empty()) return shared_;  // already one block (or none: nothing to share)
  if (shared_) unshare();
  shared_ = std::make_shared<const std::vector<Entry>>(std::move(own_));
  own_ = {};
  return shared_;
}


int Message::attempt() const {
  const auto text = headers.find(names::attempt_header);
  if (!text) return 1;
  int value = 1;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  return error == std::errc() && value >= 1 ? value : 1;
}

}  // namespace mq
