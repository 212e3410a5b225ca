// RetryStore on RabbitMQ: a stream of save/erase events per group (retry.hpp).
#include "engines/rabbitmq/retry.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string_view>
#include <thread>
#include <vector>

#include "engines/rabbitmq/engine.hpp"

namespace mq::engines::rabbitmq {
namespace {

// How long a group's retry events are kept (the stream's x-max-age), and how long past
// its due time an entry counts: a process killed between finishing a message and
// erasing its entry leaves one behind, and readers drop it after this.
constexpr std::chrono::hours keep{24 * 7};

std::int64_t epoch_ms(TimePoint time) {
  return std::chrono::ceil<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

struct Event {
  std::string id;
  std::optional<core::RetryStore::Entry> entry;  // nullopt: erase
};

// "save\t<id>\t<attempt>\t<due ms>" or "erase\t<id>"; nullopt for anything else.
std::optional<Event> parse(std::string_view body) {
  std::vector<std::string_view> fields;
  for (std::size_t start = 0;;) {
    const auto tab = body.find('\t', start);
    fields.push_back(body.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  if (fields.size() == 2 && fields[0] == "erase") return Event{std::string(fields[1]), std::nullopt};
  if (fields.size() != 4 || fields[0] != "save") return std::nullopt;
  core::RetryStore::Entry entry;
  std::int64_t due = 0;
  const auto number = [](std::string_view text, auto& value) {
    return std::from_chars(text.data(), text.data() + text.size(), value).ec == std::errc{};
  };
  if (!number(fields[2], entry.attempt) || !number(fields[3], due)) return std::nullopt;
  entry.due = TimePoint{} + std::chrono::milliseconds(due);
  return Event{std::string(fields[1]), entry};
}

}  // namespace

std::string retry_queue(const std::string& group) { return "mq.retry." + group; }

void RabbitRetryStore::save(const std::string& group, const std::string& id, const Entry& entry) {
  Group* state = nullptr;
  {
    std::lock_guard lock(mutex_);
    state = &groups_[group];
  }
  append(group, *state, fmt::format("save\t{}\t{}\t{}", id, entry.attempt, epoch_ms(entry.due)));
  std::lock_guard lock(mutex_);
  remember(*state, id, entry);
}

void RabbitRetryStore::erase(const std::string& group, const std::string& id) {
  Group* state = nullptr;
  {
    std::lock_guard lock(mutex_);
    state = &groups_[group];
  }
  append(group, *state, fmt::format("erase\t{}", id));
  std::lock_guard lock(mutex_);
  remember(*state, id, std::nullopt);
}

void RabbitRetryStore::note_redelivered(const std::string& group, const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& state = groups_[group];
  // A note core never looks up (the member closed first) would stay: bound the map.
  // Forgetting notes costs at most a restarted attempt count, never a message.
  if (state.redelivered.size() >= 100'000) state.redelivered.clear();
  state.redelivered[id] = ++state.notes;
}

std::optional<RabbitRetryStore::Entry> RabbitRetryStore::find(const std::string& group, const std::string& id) {
  std::unique_lock lock(mutex_);
  auto& state = groups_[group];
  if (const auto note = state.redelivered.find(id); note != state.redelivered.end()) {
    const auto number = note->second;
    state.redelivered.erase(note);
    if (number > state.read_through) {
      lock.unlock();
      {
        std::lock_guard reading(state.catch_up);
        // Another caller's catch-up may have covered this note while we waited.
        bool covered = false;
        {
          std::lock_guard relock(mutex_);
          covered = number <= state.read_through;
        }
        if (!covered) catch_up(group, state);
      }
      lock.lock();
    }
  }
  const auto it = state.entries.find(id);
  if (it == state.entries.end()) return std::nullopt;
  return it->second;
}

void RabbitRetryStore::append(const std::string& group, Group& state, const std::string& body) {
  // A stream declared a moment ago refuses publishes until its writer runs (the server
  // closes the connection: 506, or 541 on a loaded node), and a pooled connection may
  // have died: both are retried with a new connection, as sends are, for up to the RPC
  // timeout. Saving twice is harmless (the later event of an id wins).
  const auto deadline = std::chrono::steady_clock::now() + engine_.settings().rpc_timeout;
  auto backoff = std::chrono::milliseconds(50);
  while (true) {
    try {
      append_once(group, state, body);
      return;
    } catch (const Error& error) {
      if (error.code() != ErrorCode::connection || std::chrono::steady_clock::now() + backoff >= deadline) throw;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1'000));
  }
}

void RabbitRetryStore::append_once(const std::string& group, Group& state, const std::string& body) {
  const auto queue = retry_queue(group);
  auto connection = engine_.lease();
  bool declared = false;
  {
    std::lock_guard lock(mutex_);
    declared = state.declared;
  }
  if (!declared) {
    engine_.declare_stream(*connection, queue, TopicOptions{.retention = keep});
    std::lock_guard lock(mutex_);
    state.declared = true;
  }
  try {
    engine_.append_control(*connection, queue, body);
  } catch (const Error& error) {
    // Deleted by someone else (returned as unroutable): declared again next time.
    if (error.code() == ErrorCode::not_found) {
      std::lock_guard lock(mutex_);
      state.declared = false;
    }
    throw;
  }
}

void RabbitRetryStore::catch_up(const std::string& group, Group& state) {
  std::uint64_t notes = 0;
  std::int64_t offset = 0;
  {
    std::lock_guard lock(mutex_);
    notes = state.notes;  // the marker appended below follows every save these notes need
    offset = state.next_offset;
    state.reading = true;
    state.touched.clear();
  }
  std::vector<Event> events;
  try {
    auto connection = engine_.lease();
    engine_.read_stream(
        *connection, retry_queue(group),
        [&](const amqp_message_t& message) {
          if (auto event = parse({static_cast<const char*>(message.body.bytes), message.body.len})) {
            events.push_back(std::move(*event));
          }
        },
        {}, &offset);
  } catch (const Error& error) {
    std::lock_guard lock(mutex_);
    state.reading = false;
    if (error.code() != ErrorCode::not_found) throw;
    state.read_through = std::max(state.read_through, notes);  // no stream: nothing was saved
    return;
  }
  const auto stale_before = Clock::now() - keep;
  std::lock_guard lock(mutex_);
  state.reading = false;
  state.next_offset = offset;
  for (auto& event : events) {
    // This process wrote the id while the stream was read: its own write is newer
    // than what was read.
    if (state.touched.count(event.id)) continue;
    if (event.entry && event.entry->due >= stale_before) state.entries[event.id] = *event.entry;
    else state.entries.erase(event.id);
  }
  state.touched.clear();
  state.read_through = std::max(state.read_through, notes);
}

void RabbitRetryStore::remember(Group& state, const std::string& id, const std::optional<Entry>& entry) {
  if (state.reading) state.touched.insert(id);
  if (entry) state.entries[id] = *entry;
  else state.entries.erase(id);
}

}  // namespace mq::engines::rabbitmq
