// mqctl topics list | create | delete | create-all FILE.
#include <fstream>
#include <iostream>
#include <sstream>

#include "common.hpp"

namespace mqctl {
namespace {

struct TopicSpec {
  std::string name;
  mq::TopicOptions options;
};

int print_topics(const Globals& globals, const std::vector<mq::TopicInfo>& topics) {
  json out = json::array();
  Table table({"NAME", ">PARTITIONS", ">MESSAGES"});
  for (const auto& t : topics) {
    out.push_back(to_json(t));
    table.add({t.name, std::to_string(t.partitions), std::to_string(t.messages)});
  }
  return emit(globals, out, table);
}

int parse_count(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value <= 0) throw mq::Error(mq::ErrorCode::invalid_argument, what + ": '" + text + "' is not a positive number");
  return value;
}

// One line of a create-all file: NAME [partitions=N] [retention=DURATION]
// [retention_bytes=N]; a bare number after the name is the partition count.
TopicSpec parse_spec(const std::string& line, const std::string& where) {
  std::istringstream words(line);
  TopicSpec spec;
  words >> spec.name;
  std::string word;
  while (words >> word) {
    const auto equals = word.find('=');
    const std::string key = equals == std::string::npos ? "partitions" : word.substr(0, equals);
    const std::string value = equals == std::string::npos ? word : word.substr(equals + 1);
    if (key == "partitions") {
      spec.options.partitions = parse_count(value, where + ": partitions");
    } else if (key == "retention") {
      try {
        spec.options.retention = parse_duration(value, "retention");
      } catch (const CLI::ValidationError&) {
        throw mq::Error(mq::ErrorCode::invalid_argument, where + ": retention '" + value + "' is not a duration (7d, 12h)");
      }
    } else if (key == "retention_bytes") {
      spec.options.retention_bytes = static_cast<std::uint64_t>(parse_count(value, where + ": retention_bytes"));
    } else {
      throw mq::Error(mq::ErrorCode::invalid_argument,
                      where + ": unknown setting '" + key + "' (expected partitions, retention, retention_bytes)");
    }
  }
  return spec;
}

std::vector<TopicSpec> read_specs(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw mq::Error(mq::ErrorCode::not_found, "cannot open topics file '" + path + "'");
  std::vector<TopicSpec> specs;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    specs.push_back(parse_spec(line, path + ":" + std::to_string(number)));
  }
  return specs;
}

// Every line is checked before anything is created, so a typo creates nothing.
// Existing topics are left as they are: running the file twice is harmless.
int create_all(const Globals& globals, const std::string& path) {
  const auto specs = read_specs(path);
  auto client = connect(globals);
  auto admin = client.admin();
  json results = json::array();
  Table table({"NAME", ">PARTITIONS", "RESULT"});
  for (const auto& spec : specs) {
    std::string result = "created";
    try {
      admin.create_topic(spec.name, spec.options);
    } catch (const mq::Error& error) {
      if (error.code() != mq::ErrorCode::already_exists) throw;
      result = "exists";
    }
    const std::string partitions = spec.options.partitions ? std::to_string(spec.options.partitions) : "default";
    results.push_back({{"name", spec.name}, {"partitions", spec.options.partitions}, {"result", result}});
    table.add({spec.name, partitions, result});
  }
  return emit(globals, results, table);
}

}  // namespace

void add_topics_commands(CLI::App& app, Globals& globals, Action& action) {
  auto* topics = app.add_subcommand("topics", "List, create and delete topics");
  topics->require_subcommand(1);

  auto* list = topics->add_subcommand("list", "List topics: name, partitions, messages");
  auto internal = std::make_shared<bool>(false);
  add_json_flag(*list, globals);
  list->add_flag("--internal", *internal, "Include mq's reserved mq.* topics");
  list->callback([&globals, &action, internal] {
    action = [&globals, internal] {
      auto client = connect(globals);
      return print_topics(globals, client.admin().list_topics(*internal));
    };
  });

  auto* create = topics->add_subcommand("create", "Create a topic");
  auto name = std::make_shared<std::string>();
  auto partitions = std::make_shared<int>(0);
  auto retention = std::make_shared<std::string>();
  create->add_option("name", *name, "Topic name ([A-Za-z0-9._-], e.g. order.created)")->required();
  create->add_option("-p,--partitions", *partitions, "Partition count (default: the config's default_partitions)")
      ->check(CLI::PositiveNumber);
  create->add_option("--retention", *retention, "Keep messages this long (e.g. 7d; default: the engine's)");
  add_json_flag(*create, globals);
  create->callback([&globals, &action, name, partitions, retention] {
    action = [&globals, name, partitions, retention] {
      mq::TopicOptions options;
      options.partitions = *partitions;
      if (!retention->empty()) options.retention = parse_duration(*retention, "--retention");
      auto client = connect(globals);
      client.admin().create_topic(*name, options);
      if (globals.json) print_json({{"created", *name}});
      else std::cout << "created topic " << *name << '\n';
      return exit_ok;
    };
  });

  auto* remove = topics->add_subcommand("delete", "Delete a topic and its messages");
  auto doomed = std::make_shared<std::string>();
  remove->add_option("name", *doomed, "Topic name")->required();
  add_json_flag(*remove, globals);
  remove->callback([&globals, &action, doomed] {
    action = [&globals, doomed] {
      auto client = connect(globals);
      client.admin().delete_topic(*doomed);
      if (globals.json) print_json({{"deleted", *doomed}});
      else std::cout << "deleted topic " << *doomed << '\n';
      return exit_ok;
    };
  });

  auto* all = topics->add_subcommand(
      "create-all", "Create every topic listed in FILE, one per line: NAME [partitions=N] [retention=7d] "
                    "[retention_bytes=N] (# comments); existing topics are kept");
  auto file = std::make_shared<std::string>();
  all->add_option("file", *file, "The topics file")->required();
  add_json_flag(*all, globals);
  all->callback([&globals, &action, file] { action = [&globals, file] { return create_all(globals, *file); }; });
}

}  // namespace mqctl
