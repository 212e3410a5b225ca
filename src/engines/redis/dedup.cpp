// DedupStore on Redis: claims with leases, completions with a window, shared by every
// process of a group (README.md, "Idempotent consumption").
//
//   group layout: mq:dedup:<group>:<id>  busy (claim, PX lease) | done (PX window)
//   seed layout:  msg:processed:<id>     the same values, one key for all groups, as
//                                        the seed services kept it (SETEX semantics)
//
// Thread-safe: each call leases a pooled connection.
#include <fmt/format.h>

#include "core/engine.hpp"
#include "engines/redis/codec.hpp"
#include "engines/redis/engine.hpp"

namespace mq::engines::redis {
namespace {

class RedisDedupStore final : public core::DedupStore {
 public:
  explicit RedisDedupStore(RedisEngine& engine) : engine_(engine) {}

  Claim claim(const std::string& group, const std::string& id, milliseconds lease) override {
    const auto name = key(group, id);
    auto connection = engine_.pool().acquire();
    // Two tries: the value may expire between a failed SET NX and the GET.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const auto set = run(*connection, Args{"SET", name, "busy", "NX", "PX", std::to_string(std::max<long long>(lease.count(), 1))});
      if (!set.is_nil()) return Claim::acquired;
      const auto value = run(*connection, Args{"GET", name});
      if (value.is_nil()) continue;
      return value.text() == "busy" ? Claim::busy : Claim::done;
    }
    return Claim::busy;
  }

  void complete(const std::string& group, const std::string& id, milliseconds window) override {
    auto connection = engine_.pool().acquire();
    if (engine_.settings().dedup_layout == DedupLayout::seed) {
      // SETEX takes whole seconds: round up so the window is never shorter than asked.
      const auto seconds = std::max<long long>((window.count() + 999) / 1000, 1);
      run(*connection, Args{"SETEX", key(group, id), std::to_string(seconds), "done"});
    } else {
      run(*connection, Args{"SET", key(group, id), "done", "PX", std::to_string(std::max<long long>(window.count(), 1))});
    }
  }

  void release(const std::string& group, const std::string& id) override {
    auto connection = engine_.pool().acquire();
    checked(engine_.settings().address, "dedup release", dedup_release_script().run(*connection, {key(group, id)}, {}));
  }

 private:
  std::string key(const std::string& group, const std::string& id) const {
    return engine_.settings().dedup_layout == DedupLayout::seed ? keys::seed_dedup(id) : keys::dedup(group, id);
  }
  Reply run(Connection& connection, const Args& command) {
    return checked(engine_.settings().address, "dedup", connection.command(command));
  }
  RedisEngine& engine_;
};

}  // namespace

std::shared_ptr<core::DedupStore> make_dedup_store(RedisEngine& engine) {
  return std::make_shared<RedisDedupStore>(engine);
}

}  // namespace mq::engines::redis
