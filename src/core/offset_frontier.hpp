// OffsetFrontier: the contiguous commit position of one partition.
//
// Handlers finish out of order (different keys run in parallel), but an offset engine
// may only commit up to the lowest offset still being handled: committing past it would
// lose that message if the process died. This class tracks delivered offsets and tells
// what may be committed. Not thread-safe: the owning subscription holds its lock.
#pragma once

#include <cassert>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace mq::core {

class OffsetFrontier {
 public:
  // `position`: the committed offset the partition was acquired at (next to deliver).
  explicit OffsetFrontier(std::int64_t position = 0) : committed_(position), next_(position) {}

  // Records that `offset` was handed out. Offsets must increase (gaps are allowed).
  void delivered(std::int64_t offset) {
    assert(offset >= next_);
    open_.emplace_back(offset, false);
    ++outstanding_;
    next_ = offset + 1;
  }

  // Marks `offset` finished. Returns true if the commit position advanced.
  bool finished(std::int64_t offset);

  // Everything below this offset is finished: the offset to commit.
  std::int64_t committed() const { return committed_; }
  // The offset after the last one delivered: where fetching continues.
  std::int64_t next() const { return next_; }
  // Delivered and not yet finished.
  std::size_t outstanding() const { return outstanding_; }
  // The finished offsets above committed(), as increasing closed ranges [first, last]
  // (at most `max_ranges`, the lowest ones): what a commit position alone cannot say, so
  // that an engine can store it beside the commit and the next owner need not deliver
  // them again. A range may span offsets that hold no message.
  std::vector<std::pair<std::int64_t, std::int64_t>> finished_above(std::size_t max_ranges) const;

 private:
  std::int64_t committed_;
  std::int64_t next_;
  std::size_t outstanding_ = 0;
  std::deque<std::pair<std::int64_t, bool>> open_;  // (offset, finished), increasing
};

}  // namespace mq::core
