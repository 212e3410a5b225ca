// mqctl topics list | create | delete.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "common.hpp"

namespace mqctl {
namespace {

void print_table(const std::vector<mq::TopicInfo>& topics) {
  std::size_t width = 4;  // at least as wide as the "NAME" heading
  for (const auto& topic : topics) width = std::max(width, topic.name.size());
  std::cout << std::left << std::setw(static_cast<int>(width)) << "NAME" << "  " << std::right << std::setw(10)
            << "PARTITIONS" << "  " << std::setw(12) << "MESSAGES" << '\n';
  for (const auto& topic : topics) {
    std::cout << std::left << std::setw(static_cast<int>(width)) << topic.name << "  " << std::right << std::setw(10)
              << topic.partitions << "  " << std::setw(12) << topic.messages << '\n';
  }
}

void print_json(const std::vector<mq::TopicInfo>& topics) {
  // Topic names are validated to [A-Za-z0-9._-] by mq, so they need no JSON escaping.
  std::cout << '[';
  for (std::size_t i = 0; i < topics.size(); ++i) {
    const auto& topic = topics[i];
    std::cout << (i ? "," : "") << "\n  {\"name\": \"" << topic.name << "\", \"partitions\": " << topic.partitions
              << ", \"messages\": " << topic.messages << '}';
  }
  std::cout << (topics.empty() ? "]\n" : "\n]\n");
}

}  // namespace

void add_topics_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto* topics = app.add_subcommand("topics", "List, create and delete topics");
  topics->require_subcommand(1);

  auto* list = topics->add_subcommand("list", "List topics: name, partitions, messages");
  auto json = std::make_shared<bool>(false);
  auto internal = std::make_shared<bool>(false);
  list->add_flag("--json", *json, "Print a JSON array instead of a table");
  list->add_flag("--internal", *internal, "Include mq's reserved mq.* topics");
  list->callback([&globals, &action, json, internal] {
    action = [&globals, json, internal] {
      auto client = connect(globals);
      const auto topics_found = client.admin().list_topics(*internal);
      if (*json) print_json(topics_found);
      else print_table(topics_found);
      return 0;
    };
  });

  auto* create = topics->add_subcommand("create", "Create a topic");
  auto name = std::make_shared<std::string>();
  auto partitions = std::make_shared<int>(0);
  create->add_option("name", *name, "Topic name ([A-Za-z0-9._-], e.g. order.created)")->required();
  create->add_option("--partitions", *partitions, "Partition count (default: the config's default_partitions)")
      ->check(CLI::PositiveNumber);
  create->callback([&globals, &action, name, partitions] {
    action = [&globals, name, partitions] {
      auto client = connect(globals);
      mq::TopicOptions options;
      options.partitions = *partitions;
      client.admin().create_topic(*name, options);
      std::cout << "created topic " << *name << '\n';
      return 0;
    };
  });

  auto* remove = topics->add_subcommand("delete", "Delete a topic and its messages");
  auto doomed = std::make_shared<std::string>();
  remove->add_option("name", *doomed, "Topic name")->required();
  remove->callback([&globals, &action, doomed] {
    action = [&globals, doomed] {
      auto client = connect(globals);
      client.admin().delete_topic(*doomed);
      std::cout << "deleted topic " << *doomed << '\n';
      return 0;
    };
  });
}

}  // namespace mqctl
