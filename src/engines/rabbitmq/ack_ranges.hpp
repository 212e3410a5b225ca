// Acked delivery tags of one channel, turned into as few basic.ack frames as possible.
//
// Tags are delivered 1, 2, 3, ... on a channel. Once every tag up to T is acked, one
// basic.ack(T, multiple) covers them all; a tag acked out of order (a message behind a
// slow one of another key) is sent alone at once, so that a slow message never holds
// back the acks of others (nor the prefetch window). A multiple ack only ever names a
// tag not yet sent, and only covers tags that are all acked: it never acks a message
// still in work. Thread-compatible: the owner serialises calls.
#pragma once

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

namespace mq::engines::rabbitmq {

class AckRanges {
 public:
  // The frames to send for `tags` (newly acked, any order): (tag, multiple) pairs.
  std::vector<std::pair<std::uint64_t, bool>> take(std::vector<std::uint64_t>& tags);

 private:
  std::uint64_t through_ = 0;       // every tag <= through_ is acked on the server
  std::set<std::uint64_t> single_;  // tags > through_ already acked one by one
};

}  // namespace mq::engines::rabbitmq
