#include "engines/redis/reply_arena.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace mq::engines::redis {
namespace {

ReplyArena& arena_of(const redisReadTask* task) { return *static_cast<ReplyArena*>(task->privdata); }

// As hiredis's own reader does: a new element is linked into its parent array.
redisReply* make(const redisReadTask* task, int type) {
  auto* reply = static_cast<redisReply*>(arena_of(task).allocate(sizeof(redisReply)));
  reply->type = type;
  if (task->parent) {
    auto* parent = static_cast<redisReply*>(task->parent->obj);
    parent->element[task->idx] = reply;
  }
  return reply;
}

void* create_string(const redisReadTask* task, char* text, size_t length) {
  auto* copy = static_cast<char*>(arena_of(task).allocate(length + 1));
  std::memcpy(copy, text, length);
  copy[length] = '\0';
  redisReply* reply = make(task, task->type);
  reply->str = copy;
  reply->len = length;
  return reply;
}

void* create_array(const redisReadTask* task, int elements) {
  redisReply* reply = make(task, REDIS_REPLY_ARRAY);
  if (elements > 0) {
    const auto count = static_cast<std::size_t>(elements);
    reply->element = static_cast<redisReply**>(arena_of(task).allocate(count * sizeof(redisReply*)));
  }
  reply->elements = static_cast<size_t>(std::max(elements, 0));
  return reply;
}

void* create_integer(const redisReadTask* task, long long value) {
  redisReply* reply = make(task, REDIS_REPLY_INTEGER);
  reply->integer = value;
  return reply;
}

void* create_nil(const redisReadTask* task) { return make(task, REDIS_REPLY_NIL); }

void free_nothing(void*) {}  // the arena owns every reply

redisReplyObjectFunctions arena_functions{create_string, create_array, create_integer, create_nil, free_nothing};

}  // namespace

void ReplyArena::install(redisReader* reader) {
  reader->fn = &arena_functions;
  reader->privdata = this;
}

void ReplyArena::reset() {
  if (blocks_.size() > kept_blocks) blocks_.resize(kept_blocks);
  current_ = 0;
  used_ = 0;
}

void* ReplyArena::allocate(std::size_t size) {
  constexpr std::size_t align = alignof(std::max_align_t);
  size = (size + align - 1) / align * align;
  while (current_ < blocks_.size() && used_ + size > blocks_[current_].size) {
    ++current_;
    used_ = 0;
  }
  if (current_ == blocks_.size()) {
    const std::size_t bytes = std::max(size, block_size);
    blocks_.push_back(Block{std::make_unique<std::byte[]>(bytes), bytes});
  }
  std::byte* at = blocks_[current_].memory.get() + used_;
  used_ += size;
  std::memset(at, 0, size);
  return at;
}

}  // namespace mq::engines::redis
