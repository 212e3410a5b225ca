#include "core/offset_frontier.hpp"

#include <algorithm>

namespace mq::core {

bool OffsetFrontier::finished(std::int64_t offset) {
  if (open_.empty() || offset < open_.front().first) return false;
  // Offsets are usually contiguous (gaps are rare): then the entry is at its distance
  // from the front, found without a search.
  auto it = open_.end();
  const auto distance = static_cast<std::uint64_t>(offset - open_.front().first);
  if (distance < open_.size() && open_[static_cast<std::size_t>(distance)].first == offset) {
    it = open_.begin() + static_cast<std::ptrdiff_t>(distance);
  } else {
    it = std::lower_bound(open_.begin(), open_.end(), offset,
                          [](const auto& entry, std::int64_t value) { return entry.first < value; });
  }
  if (it == open_.end() || it->first != offset || it->second) return false;  // unknown or repeated
  it->second = true;
  --outstanding_;
  const std::int64_t before = committed_;
  while (!open_.empty() && open_.front().second) open_.pop_front();
  // The lowest offset still open; with none open, everything delivered is finished and
  // the frontier is the fetch position. (Gaps between offsets hold no messages.)
  committed_ = open_.empty() ? next_ : open_.front().first;
  return committed_ != before;
}

std::vector<std::pair<std::int64_t, std::int64_t>> OffsetFrontier::finished_above(std::size_t max_ranges) const {
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  bool extending = false;  // the previous entry was finished and ended ranges.back()
  for (const auto& [offset, done] : open_) {
    if (!done) {
      extending = false;
      continue;
    }
    if (extending) {
      ranges.back().second = offset;
      continue;
    }
    if (ranges.size() == max_ranges) break;
    ranges.emplace_back(offset, offset);
    extending = true;
  }
  return ranges;
}

}  // namespace mq::core
