#include "engines/embedded/subscription.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/coarse_clock.hpp"
#include "core/logging.hpp"
#include "core/partition_assignment.hpp"
#include "core/same_text.hpp"
#include "engines/embedded/engine.hpp"

namespace mq::engines::embedded {
namespace {

using SteadyClock = std::chrono::steady_clock;
// While a target partition is still held by its previous owner (draining), look again
// this often; otherwise membership and topics are re-read at the slow interval (inotify
// brings changes sooner).
constexpr auto claim_retry_interval = std::chrono::milliseconds(50);
constexpr auto rebalance_interval = std::chrono::milliseconds(1000);
// Acked offsets are written at most this often (each write is a file replace, and with
// fsync always two fsyncs). A crash loses at most this window of commits: those
// messages are delivered again, which at-least-once allows. A partition being handed
// over is flushed at once so that the next owner is not kept waiting.
constexpr auto commit_interval = std::chrono::milliseconds(20);

std::uint32_t data_events() { return IN_MODIFY | IN_CREATE | IN_MOVED_TO; }

}  // namespace

EmbeddedSubscription::EmbeddedSubscription(std::shared_ptr<EmbeddedEngine> engine,
                                           const core::SubscriptionSpec& spec)
    : engine_(std::move(engine)), paths_{engine_->settings().dir, spec.group}, subscriptions_(spec.topics),
      filter_(spec.topics), start_(spec.start),
      durable_commits_(engine_->settings().log.fsync == FsyncPolicy::always) {
  inotify_ = File(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_.valid()) throw_io("inotify_init1", errno);
  wake_event_ = File(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_event_.valid()) throw_io("eventfd", errno);
  member_ = std::make_unique<MemberRegistration>(paths_, subscriptions_);
  joined_at_ = member_->registered_at();
  topics_watch_ = ::inotify_add_watch(inotify_.fd(), paths_.dir.topics().c_str(), IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
  // Joins show as new files, leaves as deletions or (SIGKILL) as the file being closed:
  // a member holds its file open for writing, so its death is an IN_CLOSE_WRITE. Not
  // IN_CLOSE_NOWRITE: every rebalance lists this directory and reads the members' files
  // read-only, and those closes would start the next rebalance, in this member and in
  // every other one, on every poll.
  members_watch_ = ::inotify_add_watch(inotify_.fd(), paths_.members().c_str(),
                                       IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_CLOSE_WRITE);
}

EmbeddedSubscription::~EmbeddedSubscription() { close(); }

std::set<EmbeddedSubscription::TopicPartition> EmbeddedSubscription::target_assignment() {
  const auto members = live_members(paths_);  // ordered by member id
  std::vector<core::TopicFilter> filters;
  filters.reserve(members.size());
  for (const auto& member : members) filters.emplace_back(member.subscriptions);
  std::vector<const core::TopicFilter*> filter_pointers;
  for (const auto& filter : filters) filter_pointers.push_back(&filter);
  // Every topic some member matches, not only ours: the others' loads depend on them,
  // and every member must reach the same answer from the same members/ and topics/.
  std::vector<core::TopicPartitionCount> topics;
  for (const auto& topic : list_topic_names(paths_.dir)) {
    const bool wanted = std::any_of(filters.begin(), filters.end(), [&](const auto& f) { return f.matches(topic); });
    if (!wanted) continue;
    if (const auto settings = read_topic_settings(paths_.dir, topic)) topics.push_back({topic, settings->partitions});
  }
  std::set<TopicPartition> mine;
  for (const auto& [partition, index] : core::assign_partitions(filter_pointers, topics)) {
    if (members[index].id == member_->id()) mine.insert(partition);
  }
  return mine;
}

bool EmbeddedSubscription::topic_created_after_join(const std::string& topic) const {
  // TOPIC is written once, when the topic is built: its modification time is the
  // topic's creation time, compared with the member file's (the same coarse file system
  // clock: comparing with Clock::now() missed topics made within a tick after the join).
  // A topic made just before the join, within the same tick, counts as newer: it then
  // delivers from its start, which only adds messages of a topic empty a moment ago.
  struct stat status {};
  if (::stat((paths_.dir.topic(topic) + "/TOPIC").c_str(), &status) != 0) return false;
  const auto created = std::chrono::seconds(status.st_mtim.tv_sec) + std::chrono::nanoseconds(status.st_mtim.tv_nsec);
  return created >= joined_at_.time_since_epoch();
}

std::size_t EmbeddedSubscription::Owned::outstanding() const {
  std::size_t total = 0;
  for (const auto& [priority, lane] : lanes) total += lane.frontier.outstanding();
  return total;
}

bool EmbeddedSubscription::Owned::all_committed_on_disk() const {
  return std::all_of(lanes.begin(), lanes.end(),
                     [](const auto& entry) { return entry.second.frontier.committed() == entry.second.committed_on_disk; });
}

void EmbeddedSubscription::open_lane(const TopicPartition& partition, Owned& owned, int priority, bool fresh_group,
                                     bool from_start) {
  const std::string directory = paths_.dir.lane(partition.first, partition.second, priority);
  auto offsets = std::make_shared<OffsetFile>(paths_, partition.first, partition.second, priority, durable_commits_);
  auto position = offsets->committed();
  if (!position) {
    // Fix the start for the whole group: a later owner must not pick another "latest".
    const auto bounds = read_log_bounds(directory);
    position = (fresh_group && !from_start) ? bounds.end : bounds.start;
    offsets->write(*position);
  }
  const int watch = ::inotify_add_watch(inotify_.fd(), directory.c_str(), data_events());
  owned.lanes.emplace(priority, Lane{core::OffsetFrontier(*position), PartitionReader(directory, *position),
                                     std::move(offsets), *position, watch});
}

void EmbeddedSubscription::claim(const TopicPartition& partition) {
  auto claimed = PartitionClaim::try_claim(paths_, partition.first, partition.second);
  if (!claimed) return;  // the previous owner is still draining it
  // Watch the topic dir before listing its lanes, so that a lane made meanwhile is seen.
  const int topic_watch = ::inotify_add_watch(inotify_.fd(), paths_.dir.topic(partition.first).c_str(), IN_MOVED_TO);
  if (topic_watch >= 0) topic_dir_watches_.insert(topic_watch);
  // A group without a position here starts now: per start_, for the lanes too. A topic
  // created after this member joined holds only messages newer than the subscription:
  // "latest" means all of them, or a pattern subscriber would miss the first messages
  // of every new topic (as in the memory engine).
  const bool fresh_group = !read_committed(paths_, partition.first, partition.second);
  const bool from_start = start_ == StartPosition::earliest || topic_created_after_join(partition.first);
  Owned owned{std::move(*claimed), {}, false};
  open_lane(partition, owned, 0, fresh_group, from_start);  // written first: describe_group relies on it
  for (const auto& [lane_partition, priority] : list_lanes(paths_.dir, partition.first)) {
    if (lane_partition == partition.second) open_lane(partition, owned, priority, fresh_group, from_start);
  }
  owned_.emplace(partition, std::move(owned));
}

void EmbeddedSubscription::open_new_lanes() {
  std::map<std::string, std::vector<std::pair<int, int>>> lanes_of;  // one listing per topic
  for (auto& [partition, owned] : owned_) {
    if (owned.releasing) continue;
    auto [it, inserted] = lanes_of.try_emplace(partition.first);
    if (inserted) it->second = list_lanes(paths_.dir, partition.first);
    for (const auto& [lane_partition, priority] : it->second) {
      if (lane_partition == partition.second && !owned.lanes.count(priority)) {
        open_lane(partition, owned, priority, false, true);
      }
    }
  }
}

void EmbeddedSubscription::rebalance() {
  const auto mine = target_assignment();
  std::lock_guard commit_lock(commit_mutex_);
  std::lock_guard lock(mutex_);
  if (closed_) return;
  bool waiting = false;
  for (auto& [partition, owned] : owned_) owned.releasing = !mine.count(partition);
  for (const auto& partition : mine) {
    if (owned_.count(partition)) continue;
    claim(partition);
    waiting = waiting || !owned_.count(partition);
  }
  for (const auto& [partition, owned] : owned_) waiting = waiting || owned.releasing;
  open_new_lanes();
  topology_changed_ = false;
  next_rebalance_ = SteadyClock::now() + (waiting ? claim_retry_interval : rebalance_interval);
}

void EmbeddedSubscription::flush(bool on_poll_thread) {
  std::lock_guard commit_lock(commit_mutex_);
  struct Write {
    TopicPartition partition;
    int priority;
    std::int64_t offset;
    std::shared_ptr<OffsetFile> file;
  };
  std::vector<Write> writes;
  std::vector<TopicPartition> drained;
  {
    std::lock_guard lock(mutex_);
    commits_pending_ = false;
    next_flush_ = SteadyClock::now() + commit_interval;
    if (on_poll_thread) release_due_ = false;
    for (const auto& [partition, owned] : owned_) {
      for (const auto& [priority, lane] : owned.lanes) {
        if (lane.frontier.committed() > lane.committed_on_disk) {
          writes.push_back(Write{partition, priority, lane.frontier.committed(), lane.offsets});
        }
      }
      if (on_poll_thread && owned.releasing && owned.outstanding() == 0) drained.push_back(partition);
    }
  }
  // Written outside mutex_ so that acks and polls go on meanwhile; commit_mutex_ keeps
  // the writes in order and a release after its partition's last write.
  for (const auto& write : writes) write.file->write(write.offset);
  std::lock_guard lock(mutex_);
  for (const auto& write : writes) {
    auto it = owned_.find(write.partition);
    if (it == owned_.end()) continue;
    if (auto lane = it->second.lanes.find(write.priority); lane != it->second.lanes.end()) {
      lane->second.committed_on_disk = write.offset;
    }
  }
  for (const auto& partition : drained) {
    auto it = owned_.find(partition);
    if (it == owned_.end() || !it->second.all_committed_on_disk()) continue;
    for (const auto& [priority, lane] : it->second.lanes) {
      if (lane.watch >= 0) ::inotify_rm_watch(inotify_.fd(), lane.watch);
    }
    last_finished_ = nullptr;
    owned_.erase(it);  // the claim's destructor drops the flock: the next owner may take it
  }
}

std::vector<core::Record> EmbeddedSubscription::fetch(std::size_t max) {
  // Reads and decodes without mutex_, so that acks (other threads) go on meanwhile:
  // owned_ and the readers are changed by this thread only (class comment). mutex_ is
  // taken once at the end, for the frontiers, which acks change too.
  std::vector<core::Record> records;
  if (owned_.empty() || max == 0) return records;
  // The partitions to read, starting at a rotating one (fairness across partitions),
  // and the highest lane any of them has: lanes are read highest priority first across
  // all of them, so a partition's backlog never holds back another's higher priority.
  std::vector<std::pair<const TopicPartition*, Owned*>> sources;
  sources.reserve(owned_.size());
  const std::size_t first = next_partition_++ % owned_.size();
  auto it = std::next(owned_.begin(), static_cast<std::ptrdiff_t>(first));
  int top = 0;
  for (std::size_t visited = 0; visited < owned_.size(); ++visited) {
    if (!it->second.releasing) {
      sources.emplace_back(&it->first, &it->second);
      top = std::max(top, it->second.lanes.begin()->first);
    }
    if (++it == owned_.end()) it = owned_.begin();
  }
  // Each lane read, with the number of records it gave (in order within `records`).
  std::vector<std::pair<Lane*, std::size_t>> reads;
  std::vector<DecodedRecord> decoded;
  for (int priority = top; priority >= 0 && records.size() < max; --priority) {
    for (auto& [partition, owned] : sources) {
      if (records.size() >= max) break;
      auto lane = owned->lanes.find(priority);
      if (lane == owned->lanes.end()) continue;
      decoded.clear();
      lane->second.reader.read(max - records.size(), decoded);
      if (decoded.empty()) continue;
      reads.emplace_back(&lane->second, decoded.size());
      for (auto& entry : decoded) {
        core::Record& record = records.emplace_back();
        record.message = std::move(entry.message);
        record.message.topic = partition->first;
        record.message.partition = partition->second;
        record.message.offset = entry.offset;  // within the lane
        record.token = static_cast<std::uint64_t>(priority);  // ack() finds the lane by it
      }
    }
  }
  std::lock_guard lock(mutex_);
  auto record = records.begin();
  for (auto& [lane, count] : reads) {
    for (std::size_t i = 0; i < count; ++i, ++record) lane->frontier.delivered(record->message.offset);
  }
  return records;
}

bool EmbeddedSubscription::wait_for_events(std::chrono::milliseconds timeout) {
  pollfd descriptors[2] = {{inotify_.fd(), POLLIN, 0}, {wake_event_.fd(), POLLIN, 0}};
  const int ready = ::poll(descriptors, 2, static_cast<int>(std::max<std::int64_t>(timeout.count(), 0)));
  if (ready <= 0) return false;
  if (descriptors[0].revents & POLLIN) {
    alignas(inotify_event) char buffer[8192];
    ssize_t got = 0;
    while ((got = ::read(inotify_.fd(), buffer, sizeof buffer)) > 0) {
      for (ssize_t at = 0; at < got;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        if (event->wd == topics_watch_ || event->wd == members_watch_) {
          std::lock_guard lock(mutex_);
          topology_changed_ = true;
        } else if (event->mask & IN_MOVED_TO) {
          // A new lane in the topic dir of an owned partition (partition dirs see no
          // renames): the next rebalance opens it.
          std::lock_guard lock(mutex_);
          if (topic_dir_watches_.count(event->wd)) topology_changed_ = true;
        }
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
  }
  if (descriptors[1].revents & POLLIN) {
    std::uint64_t count = 0;
    [[maybe_unused]] auto ignored = ::read(wake_event_.fd(), &count, sizeof count);
    return true;
  }
  return false;
}

std::vector<core::Record> EmbeddedSubscription::poll(std::size_t max, std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    // Read pending inotify events without waiting: a busy member returns records on
    // every call and never reaches the wait below, so this is where it learns that a
    // member joined (and must hand partitions over) before it has drained everything.
    if (wait_for_events(std::chrono::milliseconds(0))) return {};
    bool due = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_) throw Error(ErrorCode::closed, fmt::format("subscription of group '{}' is closed", paths_.group));
      due = topology_changed_ || SteadyClock::now() >= next_rebalance_;
    }
    if (due) {
      rebalance();
      flush(true);  // releases what the new target gives away, once drained
    } else {
      bool flush_due = false;
      {
        std::lock_guard lock(mutex_);
        flush_due = release_due_ || (commits_pending_ && SteadyClock::now() >= next_flush_);
      }
      if (flush_due) flush_logging_errors(true);
    }
    auto records = fetch(max);
    if (!records.empty()) return records;
    const auto now = SteadyClock::now();
    if (now >= deadline) return {};
    auto until = std::min(deadline, next_rebalance_);
    {
      std::lock_guard lock(mutex_);
      if (commits_pending_) until = std::min(until, next_flush_);
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(std::max(until - now, SteadyClock::duration{}));
    if (wait_for_events(wait)) return {};
  }
}

void EmbeddedSubscription::ack(const core::Record& record) {
  const core::Record* one[] = {&record};
  ack_all(one);
}

void EmbeddedSubscription::ack_all(std::span<const core::Record* const> records) {
  bool drained = false;
  bool flush_due = false;
  {
    std::lock_guard lock(mutex_);
    for (const core::Record* record : records) drained = finish_locked(*record) || drained;
    release_due_ = release_due_ || drained;
    // The coarse clock: this runs for every few messages, and a commit a tick late is
    // harmless. Otherwise the poll loop or a later ack writes it within commit_interval.
    flush_due = !drained && commits_pending_ && core::CoarseSteadyClock::now() >= next_flush_;
  }
  // A drained partition is released by the poll thread (the only one that changes
  // owned_; it commits first), woken for it now.
  if (drained) wakeup();
  else if (flush_due) flush_logging_errors(false);
}

bool EmbeddedSubscription::finish_locked(const core::Record& record) {
  const auto& message = record.message;
  if (!last_finished_ || last_finished_->first.second != message.partition ||
      !core::same_text(last_finished_->first.first, message.topic)) {
    auto it = owned_.find({message.topic, message.partition});
    if (it == owned_.end()) return false;  // released or closed: it will be delivered again
    last_finished_ = &*it;
  }
  Owned& owned = last_finished_->second;
  auto lane = owned.lanes.find(static_cast<int>(record.token));
  if (lane == owned.lanes.end()) return false;
  commits_pending_ = lane->second.frontier.finished(message.offset) || commits_pending_;
  return owned.releasing && owned.outstanding() == 0;
}

void EmbeddedSubscription::flush_logging_errors(bool on_poll_thread) {
  try {
    flush(on_poll_thread);
  } catch (const std::exception& error) {
    std::lock_guard lock(mutex_);
    commits_pending_ = true;  // the next ack, poll or close writes it
    core::log(LogLevel::warning, "embedded: commit for group '{}' failed: {}", paths_.group, error.what());
  }
}

void EmbeddedSubscription::wakeup() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto ignored = ::write(wake_event_.fd(), &one, sizeof one);
}

void EmbeddedSubscription::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    for (auto& [partition, owned] : owned_) owned.releasing = true;
  }
  try {
    // Commits what was acked; what was delivered and not acked goes to the next owner.
    std::lock_guard commit_lock(commit_mutex_);
    std::lock_guard lock(mutex_);
    for (auto& [partition, owned] : owned_) {
      for (const auto& [priority, lane] : owned.lanes) {
        if (lane.frontier.committed() > lane.committed_on_disk) {
          lane.offsets->write(lane.frontier.committed());
        }
      }
    }
  } catch (const std::exception& error) {
    core::log(LogLevel::warning, "embedded: closing a member of group '{}': {}", paths_.group, error.what());
  }
  std::lock_guard lock(mutex_);
  last_finished_ = nullptr;
  owned_.clear();
  member_.reset();
  closed_ = true;
}

std::unique_ptr<core::Subscription> EmbeddedEngine::subscribe(const core::SubscriptionSpec& spec) {
  check_open();
  return std::make_unique<EmbeddedSubscription>(shared_from_this(), spec);
}

}  // namespace mq::engines::embedded
