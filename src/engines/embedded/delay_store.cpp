#include "engines/embedded/delay_store.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>
#include <tuple>

#include "core/logging.hpp"
#include "engines/embedded/engine.hpp"
#include "engines/embedded/format.hpp"
#include "engines/embedded/segment.hpp"

namespace mq::engines::embedded {
namespace {

constexpr std::size_t max_moves_per_round = 1000;
constexpr std::uint64_t compact_journal_bytes = 1u << 20;

// The lane a delayed message is moved into once due: its priority's (FORMAT.md 1a).
int lane_of(const Message& message) { return std::clamp(message.priority, 0, max_priority); }

LogOptions delay_log_options(const EngineSettings& settings) {
  LogOptions options = settings.log;
  options.retention = milliseconds(0);  // the mover removes segments once delivered
  options.retention_bytes = 0;
  return options;
}

std::string delay_log_directory(const EngineSettings& settings) {
  const std::string directory = settings.dir.delay() + "/log";
  std::filesystem::create_directories(directory);
  return directory;
}

}  // namespace

DelayStore::DelayStore(EmbeddedEngine& engine)
    : engine_(engine), directory_(engine.settings().dir.delay()),
      durable_moves_(engine.settings().log.fsync == FsyncPolicy::always),
      log_(delay_log_directory(engine.settings()), delay_log_options(engine.settings())),
      mover_thread_([this] { mover_loop(); }) {}

DelayStore::~DelayStore() { stop(); }

void DelayStore::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (mover_thread_.joinable()) mover_thread_.join();
  // Another process (or engine) takes over as mover even if this engine object lives on.
  journal_.reset();
  lock_file_.reset();
}

bool DelayStore::is_mover() const {
  std::lock_guard lock(mutex_);
  return mover_;
}

Status DelayStore::add(std::span<const RecordInput> records, bool durable) {
  auto outcome = durable ? log_.append_durably(records) : log_.append(records);
  {
    std::lock_guard lock(mutex_);
    added_ = true;
  }
  wake_.notify_all();
  return outcome.status;
}

bool DelayStore::try_become_mover() {
  if (!lock_file_.valid()) lock_file_ = open_file(directory_ + "/LOCK", O_RDWR | O_CREAT);
  if (!try_lock_exclusive(lock_file_.fd(), directory_ + "/LOCK")) return false;
  load();
  std::lock_guard lock(mutex_);
  mover_ = true;
  return true;
}

void DelayStore::append_journal(std::string_view entries, bool durable) {
  if (const int error = write_all_at(journal_.fd(), entries, static_cast<off_t>(journal_bytes_)); error != 0) {
    ::ftruncate(journal_.fd(), static_cast<off_t>(journal_bytes_));
    throw_io("append to " + directory_ + "/JOURNAL", error);
  }
  journal_bytes_ += entries.size();
  if (durable && ::fdatasync(journal_.fd()) != 0) throw_io("fdatasync " + directory_ + "/JOURNAL", errno);
}

void DelayStore::load() {
  const std::string journal_path = directory_ + "/JOURNAL";
  journal_ = open_file(journal_path, O_RDWR | O_CREAT);
  std::string bytes;
  read_at(journal_.fd(), bytes, file_size(journal_.fd(), journal_path), 0, journal_path);
  journal_bytes_ = bytes.size() - bytes.size() % journal_entry_size;
  std::int64_t floor = 0;
  std::set<std::int64_t> done;
  std::map<std::int64_t, std::int64_t> intents;  // sequence -> target end before the move
  for (const auto& entry : decode_journal(bytes, journal_path)) {
    if (entry.kind == journal_floor) floor = std::max(floor, entry.sequence);
    if (entry.kind == journal_done) done.insert(entry.sequence);
    if (entry.kind == journal_intent) intents[entry.sequence] = entry.value;
  }
  reader_ = std::make_unique<PartitionReader>(log_.directory(), floor);
  std::vector<DecodedRecord> records;
  while (reader_->read(1024, records) > 0) {}
  std::string resolved;
  for (auto& record : records) {
    if (done.count(record.offset) || !record.delay) continue;
    if (auto intent = intents.find(record.offset); intent != intents.end()) {
      // A mover died during this move: the target partition tells whether it happened.
      PartitionReader target(engine_.settings().dir.lane(record.delay->topic, record.delay->partition,
                                                         lane_of(record.message)),
                             intent->second);
      std::vector<DecodedRecord> moved;
      bool found = false;
      while (!found && target.read(1024, moved) > 0) {
        for (const auto& candidate : moved) found = found || candidate.delay_sequence == static_cast<std::uint64_t>(record.offset);
        moved.clear();
      }
      if (found) {
        encode_journal_entry(resolved, {journal_done, record.offset, 0});
        continue;
      }
    }
    const auto due = to_nanoseconds(record.delay->due);
    pending_.emplace(std::make_pair(due, record.offset), std::move(record));
  }
  if (!resolved.empty()) append_journal(resolved, durable_moves_);
}

void DelayStore::read_new_records() {
  std::vector<DecodedRecord> records;
  while (reader_->read(1024, records) > 0) {}
  for (auto& record : records) {
    if (!record.delay) continue;
    const auto due = to_nanoseconds(record.delay->due);
    pending_.emplace(std::make_pair(due, record.offset), std::move(record));
  }
}

std::chrono::nanoseconds DelayStore::deliver_due() {
  const std::int64_t now = to_nanoseconds(Clock::now());
  // (topic, partition, priority lane): the intent's end offset is the lane's.
  std::map<std::tuple<std::string, int, int>, std::vector<DecodedRecord*>> by_target;
  std::vector<std::pair<std::int64_t, std::int64_t>> keys;
  for (auto it = pending_.begin(); it != pending_.end() && it->first.first <= now && keys.size() < max_moves_per_round;
       ++it) {
    by_target[{it->second.delay->topic, it->second.delay->partition, lane_of(it->second.message)}].push_back(
        &it->second);
    keys.push_back(it->first);
  }
  if (!keys.empty()) {
    // 1. Intents, durable before anything moves.
    std::string intents;
    for (const auto& [target, records] : by_target) {
      const auto& [topic, partition, priority] = target;
      const auto writer = engine_.topic_writer(topic, true);
      const std::int64_t end = writer ? writer->log(partition, priority).end_offset() : 0;
      for (const auto* record : records) encode_journal_entry(intents, {journal_intent, record->offset, end});
    }
    append_journal(intents, durable_moves_);
    // 2. The moves, each carrying its delay sequence. 3. Done entries.
    std::string done;
    for (const auto& [target, records] : by_target) {
      const auto& [topic, partition, priority] = target;
      std::vector<RecordInput> inputs;
      for (const auto* record : records) {
        inputs.push_back(RecordInput{&record->message, nullptr, static_cast<std::uint64_t>(record->offset)});
      }
      const auto outcome = engine_.append_to_partition(topic, partition, priority, inputs, durable_moves_);
      if (!outcome.status.ok() && outcome.status.code() != ErrorCode::not_found) {
        core::log(LogLevel::warning, "embedded: delayed delivery to '{}' failed, retrying: {}", topic,
                  outcome.status.to_string());
        continue;  // stays pending; its intent is harmless (resolved by a scan if we die)
      }
      if (!outcome.status.ok()) {
        core::log(LogLevel::warning, "embedded: {} delayed messages for deleted topic '{}' dropped", records.size(),
                  topic);
      }
      for (std::size_t n = 0; n < records.size(); ++n) {
        encode_journal_entry(done, {journal_done, records[n]->offset, outcome.base_offset + static_cast<std::int64_t>(n)});
      }
      for (const auto* record : records) {
        pending_.erase({to_nanoseconds(record->delay->due), record->offset});
      }
    }
    append_journal(done, false);
  }
  compact_if_idle();
  if (pending_.empty()) return std::chrono::hours(1);
  return std::chrono::nanoseconds(std::max<std::int64_t>(0, pending_.begin()->first.first - now));
}

void DelayStore::compact_if_idle() {
  // With nothing pending, everything read so far is delivered: a floor entry says so in
  // a fresh journal, and the delay segments before the last can go.
  if (!pending_.empty() || journal_bytes_ < compact_journal_bytes) return;
  std::string fresh;
  encode_journal_entry(fresh, {journal_floor, reader_->position(), 0});
  const std::string journal_path = directory_ + "/JOURNAL";
  replace_file(journal_path, fresh, true);
  journal_ = open_file(journal_path, O_RDWR);
  journal_bytes_ = fresh.size();
  const auto bases = list_segments(log_.directory(), false);
  for (std::size_t i = 0; i + 1 < bases.size() && bases[i + 1] <= reader_->position(); ++i) {
    for (auto extension : {log_extension, index_extension, time_index_extension}) {
      ::unlink(segment_path(log_.directory(), bases[i], extension).c_str());
    }
  }
}

void DelayStore::mover_loop() {
  const auto election_interval = engine_.settings().housekeeping_interval;
  const auto scan_interval = std::chrono::milliseconds(100);  // delays stored by other processes
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::chrono::nanoseconds wait = election_interval;
    lock.unlock();
    try {
      if (reader_ || try_become_mover()) {
        read_new_records();
        wait = std::min<std::chrono::nanoseconds>(deliver_due(), scan_interval);
      }
    } catch (const std::exception& error) {
      core::log(LogLevel::warning, "embedded: delay mover: {}", error.what());
    }
    lock.lock();
    wake_.wait_for(lock, wait, [&] { return stopping_ || added_; });
    added_ = false;
  }
  mover_ = false;
}

}  // namespace mq::engines::embedded
