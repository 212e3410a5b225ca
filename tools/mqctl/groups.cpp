// mqctl groups list | describe GROUP (lag per partition).
#include <algorithm>
#include <iostream>

#include "common.hpp"

namespace mqctl {
namespace {

bool is_internal(const std::string& group) { return group.rfind("mq.", 0) == 0; }

int list_groups(const Globals& globals, bool internal) {
  auto client = connect(globals);
  auto admin = client.admin();
  json out = json::array();
  Table table({"GROUP", ">PARTITIONS", ">LAG"});
  for (const auto& name : admin.list_groups()) {
    if (!internal && is_internal(name)) continue;
    const auto group = admin.describe_group(name);
    out.push_back({{"name", name}, {"partitions", group.partitions.size()}, {"total_lag", group.total_lag()}});
    table.add({name, std::to_string(group.partitions.size()), std::to_string(group.total_lag())});
  }
  return emit(globals, out, table);
}

int describe_group(const Globals& globals, const std::string& name) {
  auto client = connect(globals);
  auto admin = client.admin();
  // Engines answer an unknown group differently (empty or not_found): make it one answer.
  const auto groups = admin.list_groups();
  if (std::find(groups.begin(), groups.end(), name) == groups.end()) {
    throw mq::Error(mq::ErrorCode::not_found, "group '" + name + "' does not exist");
  }
  const auto group = admin.describe_group(name);
  if (globals.json) {
    print_json(to_json(group));
    return exit_ok;
  }
  Table table({"TOPIC", ">PARTITION", ">COMMITTED", ">END", ">LAG"});
  for (const auto& p : group.partitions) {
    table.add({p.topic, std::to_string(p.partition), std::to_string(p.committed), std::to_string(p.end),
               std::to_string(p.lag())});
  }
  std::cout << "group " << group.name << ": total lag " << group.total_lag() << '\n';
  table.print(std::cout);
  return exit_ok;
}

}  // namespace

void add_groups_commands(CLI::App& app, Globals& globals, Action& action) {
  auto* groups = app.add_subcommand("groups", "List consumer groups and their lag");
  groups->require_subcommand(1);

  auto* list = groups->add_subcommand("list", "List groups with their total lag");
  auto internal = std::make_shared<bool>(false);
  list->add_flag("--internal", *internal, "Include mq's own mq.* groups");
  add_json_flag(*list, globals);
  list->callback([&globals, &action, internal] {
    action = [&globals, internal] { return list_groups(globals, *internal); };
  });

  auto* describe = groups->add_subcommand("describe", "Committed offset, end and lag per partition of a group");
  auto name = std::make_shared<std::string>();
  describe->add_option("group", *name, "Group name")->required();
  add_json_flag(*describe, globals);
  describe->callback([&globals, &action, name] {
    action = [&globals, name] { return describe_group(globals, *name); };
  });
}

}  // namespace mqctl
