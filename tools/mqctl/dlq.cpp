// mqctl dlq list | replay | purge GROUP: a group's dead letters (mq.dlq.<group>).
#include <iostream>

#include "common.hpp"

namespace mqctl {
namespace {

struct Selector {
  bool all = false;
  std::vector<std::string> ids;
  std::string older_than;
};

// Exactly one way of choosing is required: replaying or purging everything by accident
// is not something a missing flag should do.
mq::DeadLetterSelection to_selection(const Selector& selector) {
  const int chosen = (selector.all ? 1 : 0) + (selector.ids.empty() ? 0 : 1) + (selector.older_than.empty() ? 0 : 1);
  if (chosen != 1) throw CLI::ValidationError("selection", "give exactly one of --all, --id ID..., --older-than DURATION");
  if (selector.all) return mq::DeadLetterSelection::everything();
  if (!selector.ids.empty()) return mq::DeadLetterSelection::by_ids(selector.ids);
  return mq::DeadLetterSelection::older_than_age(parse_duration(selector.older_than, "--older-than"));
}

std::string shorten(std::string text, std::size_t limit) {
  for (auto& c : text) {
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  }
  return text.size() <= limit ? text : text.substr(0, limit - 3) + "...";
}

int list(const Globals& globals, const std::string& group, std::size_t limit) {
  auto client = connect(globals);
  json out = json::array();
  Table table({"ID", "TOPIC", ">ATTEMPTS", "FAILED AT", "ERROR", "VALUE"});
  for (const auto& l : client.admin().list_dead_letters(group, limit)) {
    out.push_back(to_json(l));
    table.add({l.message.id, l.original_topic, std::to_string(l.attempts), iso_time(l.failed_at), shorten(l.error, 40),
               shorten(l.message.value, 40)});
  }
  return emit(globals, out, table);
}

// replay and purge differ only in the Admin call and the verb printed.
int resolve(const Globals& globals, const std::string& group, const Selector& selector, bool replay) {
  const auto selection = to_selection(selector);
  auto client = connect(globals);
  auto admin = client.admin();
  const std::size_t count =
      replay ? admin.replay_dead_letters(group, selection) : admin.purge_dead_letters(group, selection);
  const char* verb = replay ? "replayed" : "purged";
  if (globals.json) {
    print_json({{"group", group}, {verb, count}});
  } else {
    std::cout << verb << ' ' << count << (count == 1 ? " dead letter" : " dead letters") << " of group " << group
              << '\n';
  }
  // Asking for ids that are not there is "not found", so scripts notice a typo.
  if (!selector.ids.empty() && count < selector.ids.size()) {
    std::cerr << "mqctl: " << (selector.ids.size() - count) << " of the given ids are not dead letters of " << group
              << '\n';
    return exit_not_found;
  }
  return exit_ok;
}

void add_resolve_command(CLI::App& dlq, Globals& globals, Action& action, bool replay) {
  auto* command = dlq.add_subcommand(replay ? "replay" : "purge",
                                     replay ? "Send dead letters back to their original topics (same id, key, value)"
                                            : "Remove dead letters without replaying them");
  auto group = std::make_shared<std::string>();
  auto selector = std::make_shared<Selector>();
  command->add_option("group", *group, "Consumer group whose dead letters to act on")->required();
  command->add_flag("--all", selector->all, "Every dead letter of the group");
  command->add_option("--id", selector->ids, "Dead letter (message) id; repeatable");
  command->add_option("--older-than", selector->older_than, "Dead letters that failed longer ago than this (e.g. 1h)");
  add_json_flag(*command, globals);
  command->callback([&globals, &action, group, selector, replay] {
    action = [&globals, group, selector, replay] { return resolve(globals, *group, *selector, replay); };
  });
}

}  // namespace

void add_dlq_commands(CLI::App& app, Globals& globals, Action& action) {
  auto* dlq = app.add_subcommand("dlq", "List, replay and purge a group's dead letters");
  dlq->require_subcommand(1);

  auto* list_cmd = dlq->add_subcommand("list", "List a group's dead letters, oldest first");
  auto group = std::make_shared<std::string>();
  auto limit = std::make_shared<std::size_t>(1000);
  list_cmd->add_option("group", *group, "Consumer group")->required();
  list_cmd->add_option("--limit", *limit, "At most this many (default 1000)")->check(CLI::PositiveNumber);
  add_json_flag(*list_cmd, globals);
  list_cmd->callback([&globals, &action, group, limit] {
    action = [&globals, group, limit] { return list(globals, *group, *limit); };
  });
  add_resolve_command(*dlq, globals, action, true);
  add_resolve_command(*dlq, globals, action, false);
}

}  // namespace mqctl
