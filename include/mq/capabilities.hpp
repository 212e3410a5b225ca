// What the engine behind a Client can do (Client::capabilities()).
#pragma once

#include <string>

namespace mq {

struct Capabilities {
  std::string engine;          // "memory", "embedded", "redis", ...
  bool durable = false;        // acknowledged messages survive a crash of this process
  bool multi_process = false;  // processes share topics and groups (C08/C12 across processes)
  bool native_delay = false;   // the engine stores delayed messages itself
  bool priority = false;       // higher Message::priority is delivered first
  bool offsets = false;        // per-partition offsets; commits are contiguous
  bool server = false;         // a server can fail independently (fault cases C25, C26)
  bool durable_retry = false;  // a scheduled retry survives a consumer restart (attempt and due time)
};

}  // namespace mq
