#include "engines/rabbitmq/ack_ranges.hpp"

#include <algorithm>

namespace mq::engines::rabbitmq {

std::vector<std::pair<std::uint64_t, bool>> AckRanges::take(std::vector<std::uint64_t>& tags) {
  std::vector<std::pair<std::uint64_t, bool>> frames;
  if (tags.empty()) return frames;
  std::sort(tags.begin(), tags.end());
  // The contiguous run after through_, made of new tags and tags already sent alone.
  std::uint64_t highest_new = 0;  // the largest new tag in the run: the one to name
  auto next = tags.begin();
  while (true) {
    const auto wanted = through_ + 1;
    if (next != tags.end() && *next == wanted) {
      highest_new = wanted;
      ++next;
    } else if (single_.count(wanted)) {
      single_.erase(wanted);
    } else {
      break;
    }
    through_ = wanted;
  }
  if (highest_new != 0) frames.emplace_back(highest_new, highest_new > 1);
  for (; next != tags.end(); ++next) {
    if (*next <= through_ || !single_.insert(*next).second) continue;  // duplicate: sent already
    frames.emplace_back(*next, false);
  }
  return frames;
}

}  // namespace mq::engines::rabbitmq
