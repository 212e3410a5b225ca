// Replies built in an arena: for a connection that reads many small replies in bulk
// (a member's XREADGROUP: per entry an array, its id, a field array, the field name and
// the frame), hiredis's default reader makes two allocations per element and
// freeReplyObject frees them one by one; that was a third of the client's CPU per
// consumed message. With these functions installed, the reader builds the same
// `redisReply` tree in a few reused blocks instead, and freeing a reply is a no-op.
//
// Invariant: a reply built here lives until the connection's next command (reset()),
// so the owner of the connection must not keep a Reply across two commands. Not
// thread-safe (one connection, one thread at a time, like the connection itself).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

struct redisReader;

namespace mq::engines::redis {

class ReplyArena {
 public:
  // Makes `reader` build its replies here (until the reader is freed).
  void install(redisReader* reader);
  // Forgets every reply built so far; keeps the first blocks for the next replies.
  void reset();
  // `size` bytes aligned for any reply field, zeroed.
  void* allocate(std::size_t size);

 private:
  static constexpr std::size_t block_size = 64 * 1024;
  static constexpr std::size_t kept_blocks = 16;  // 1 MiB kept between replies at most
  struct Block {
    std::unique_ptr<std::byte[]> memory;
    std::size_t size = 0;
  };
  std::vector<Block> blocks_;
  std::size_t current_ = 0;  // the block being filled
  std::size_t used_ = 0;     // bytes used in it
};

}  // namespace mq::engines::redis
