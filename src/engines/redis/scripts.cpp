// The Lua scripts. Each runs atomically on the server, which is what makes topic
// registration, the delay mover, taking over a dead member's messages and releasing a
// dedup claim safe with any number of processes. Keys not passed in KEYS (streams a
// payload names, member liveness keys) are fine on a standalone server; Redis Cluster
// is not supported (README.md).
#include "engines/redis/engine.hpp"

namespace mq::engines::redis {

// KEYS: mq:topics, mq:topic:<name>, mq:topics:v. ARGV: name, partitions, retention ms, maxlen.
// Registers the topic unless it exists; returns {created (0/1), HGETALL of its meta}.
const Script& register_topic_script() {
  static const Script script(R"lua(
local created = 0
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  local t = redis.call('TIME')
  local now = string.format('%.0f', t[1] * 1000 + math.floor(t[2] / 1000))
  redis.call('HSET', KEYS[2], 'partitions', ARGV[2], 'created', now, 'retention', ARGV[3], 'maxlen', ARGV[4])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('INCR', KEYS[3])
  created = 1
end
return {created, redis.call('HGETALL', KEYS[2])}
)lua");
  return script;
}

// KEYS: mq:topic:<name>, mq:topics:v. ARGV: lane field ("lane<priority>"). Records when
// the topic's lane of that priority was first used (subscribers then read its streams).
const Script& register_lane_script() {
  static const Script script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local t = redis.call('TIME')
local now = string.format('%.0f', t[1] * 1000 + math.floor(t[2] / 1000))
if redis.call('HSETNX', KEYS[1], ARGV[1], now) == 1 then redis.call('INCR', KEYS[2]) end
return 1
)lua");
  return script;
}

// KEYS: mq:delay, mq:delay:m. ARGV: token, due ms, payload ("<stream>\n<frame>").
const Script& delay_add_script() {
  static const Script script(R"lua(
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
)lua");
  return script;
}

// KEYS: mq:delay, mq:delay:m. ARGV: limit. Moves up to `limit` delayed messages whose
// due time (server clock) has come into their streams; each exactly once, because the
// XADD and the removal from the delay set happen in one script. Returns how many.
const Script& delay_move_script() {
  static const Script script(R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, token in ipairs(due) do
  local payload = redis.call('HGET', KEYS[2], token)
  if payload then
    local newline = string.find(payload, '\n', 1, true)
    redis.call('XADD', string.sub(payload, 1, newline - 1), '*', 'm', string.sub(payload, newline + 1))
    redis.call('HDEL', KEYS[2], token)
  end
  redis.call('ZREM', KEYS[1], token)
end
return #due
)lua");
  return script;
}

// KEYS: a stream. ARGV: group, this member's consumer name, the group's member-key
// prefix, limit. Takes over (XCLAIM) the pending messages of every consumer of the group
// whose liveness key is gone (killed, or closed), at most `limit` each, and deletes
// such consumers once nothing is pending for them. Returns the claimed entries.
const Script& reclaim_script() {
  static const Script script(R"lua(
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return {} end
local limit = tonumber(ARGV[4])
local claimed = {}
for _, consumer in ipairs(consumers) do
  local name, pending = nil, 0
  for i = 1, #consumer, 2 do
    if consumer[i] == 'name' then name = consumer[i + 1] elseif consumer[i] == 'pending' then pending = consumer[i + 1] end
  end
  if name and name ~= ARGV[2] and redis.call('EXISTS', ARGV[3] .. name) == 0 then
    if pending > 0 then
      local ids = {}
      for _, entry in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', limit, name)) do
        ids[#ids + 1] = entry[1]
      end
      if #ids > 0 then
        for _, entry in ipairs(redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))) do
          claimed[#claimed + 1] = entry
        end
      end
    end
    if pending <= limit then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name) end
  end
end
return claimed
)lua");
  return script;
}

// KEYS: a dedup key. Deletes it only while it is still a claim ("busy"), never a
// completion another member recorded meanwhile.
const Script& dedup_release_script() {
  static const Script script(R"lua(
if redis.call('GET', KEYS[1]) == 'busy' then return redis.call('DEL', KEYS[1]) end
return 0
)lua");
  return script;
}

// Retry entries (retry.cpp). The version key holds "<server µs>:<n>", changed by every
// write, so a reader's cached copy is known stale when it differs; the time part keeps
// a version unique after the keys expired and were created again.
//
// KEYS: mq:g:<group>:retry (hash: id -> "attempt due_ms"), mq:g:<group>:retry:v.
// ARGV: id, value, ttl ms. Both keys live at least `ttl` from now (never shortened).
const Script& retry_save_script() {
  static const Script script(R"lua(
local t = redis.call('TIME')
local old = redis.call('GET', KEYS[2])
local n = 1
if old then n = (tonumber(string.match(old, ':(%d+)$')) or 0) + 1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if left > ttl then ttl = left end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], t[1] .. string.format('%06d', t[2]) .. ':' .. n, 'PX', ttl)
return 1
)lua");
  return script;
}

// KEYS: as retry_save_script. ARGV: id. Removes the entry and changes the version.
const Script& retry_erase_script() {
  static const Script script(R"lua(
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
local t = redis.call('TIME')
local old = redis.call('GET', KEYS[2])
local n = 1
if old then n = (tonumber(string.match(old, ':(%d+)$')) or 0) + 1 end
local ttl = redis.call('PTTL', KEYS[2])
if ttl <= 0 then ttl = 1000 end
redis.call('SET', KEYS[2], t[1] .. string.format('%06d', t[2]) .. ':' .. n, 'PX', ttl)
return 1
)lua");
  return script;
}

// KEYS: as retry_save_script. ARGV: the version the caller has, keep ms. Returns
// {version} when it is current, else {version, HGETALL}, after removing entries due
// more than `keep` ago (left by a process that died before erasing them).
const Script& retry_read_script() {
  static const Script script(R"lua(
local version = redis.call('GET', KEYS[2]) or '-'
if version == ARGV[1] then return {version} end
local t = redis.call('TIME')
local oldest = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local kept = {}
for i = 1, #all, 2 do
  local due = tonumber(string.match(all[i + 1], ' (%d+)$')) or 0
  if due < oldest then
    redis.call('HDEL', KEYS[1], all[i])
  else
    kept[#kept + 1] = all[i]
    kept[#kept + 1] = all[i + 1]
  end
end
return {version, kept}
)lua");
  return script;
}

}  // namespace mq::engines::redis
