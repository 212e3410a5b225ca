// Connecting, durations, tables and the JSON shapes shared by the CLI and the console.
#include <algorithm>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "common.hpp"

namespace mqctl {

mq::Config load_config(const Globals& globals) {
  mq::Config config = mq::Config::load(globals.config_path);
  if (!globals.url.empty()) config.url = globals.url;
  return config;
}

mq::Client connect(const Globals& globals) {
  mq::Config config = load_config(globals);
  const std::string url = config.url;
  return mq::Client(url, std::move(config));
}

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option) {
  // Reuse the config parser through a scratch Config rather than a second grammar.
  mq::Config scratch = mq::Config::defaults("development");
  try {
    scratch.set("consumer.stop_timeout", text);
  } catch (const mq::Error&) {
    throw CLI::ValidationError(option, "'" + text + "' is not a duration (examples: 500ms, 5s, 2m)");
  }
  return scratch.consumer.stop_timeout;
}

void add_json_flag(CLI::App& command, Globals& globals) {
  command.add_flag("--json", globals.json, "Print JSON instead of a table");
}

Table::Table(std::vector<std::string> headings) {
  for (auto& heading : headings) {
    const bool right = !heading.empty() && heading.front() == '>';
    right_.push_back(right);
    headings_.push_back(right ? heading.substr(1) : heading);
  }
}

void Table::add(std::vector<std::string> row) {
  row.resize(headings_.size());
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& heading : headings_) widths.push_back(heading.size());
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(widths[i] - cells[i].size(), ' ');
      if (i) text += "  ";
      text += right_[i] ? pad + cells[i] : cells[i] + (i + 1 < cells.size() ? pad : "");
    }
    out << text << '\n';
  };
  line(headings_);
  for (const auto& row : rows_) line(row);
}

std::string dump_json(const json& value, int indent) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

void print_json(const json& value) { std::cout << dump_json(value, 2) << '\n'; }

int emit(const Globals& globals, const json& data, const Table& table) {
  if (globals.json) print_json(data);
  else table.print(std::cout);
  return exit_ok;
}

std::int64_t epoch_ms(mq::TimePoint time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

std::string iso_time(mq::TimePoint time) {
  const std::time_t seconds = mq::Clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::ostringstream text;
  text << std::put_time(&utc, "%Y-%m-%dT%H:%M:%SZ");
  return text.str();
}

json to_json(const mq::TopicInfo& topic) {
  return {{"name", topic.name}, {"partitions", topic.partitions}, {"messages", topic.messages}};
}

json to_json(const mq::GroupInfo& group) {
  json partitions = json::array();
  for (const auto& p : group.partitions) {
    partitions.push_back({{"topic", p.topic}, {"partition", p.partition}, {"committed", p.committed},
                          {"end", p.end}, {"lag", p.lag()}});
  }
  return {{"name", group.name}, {"members", group.members}, {"total_lag", group.total_lag()},
          {"partitions", std::move(partitions)}};
}

json to_json(const mq::Message& message) {
  json headers = json::array();
  for (const auto& [name, value] : message.headers) headers.push_back({name, value});
  return {{"topic", message.topic},
          {"partition", message.partition},
          {"offset", message.offset},
          {"id", message.id},
          {"key", message.key ? json(*message.key) : json(nullptr)},
          {"value", message.value},
          {"headers", std::move(headers)},
          {"timestamp", epoch_ms(message.timestamp)},
          {"priority", message.priority}};
}

json to_json(const mq::DeadLetter& letter) {
  return {{"id", letter.message.id},       {"original_topic", letter.original_topic},
          {"error", letter.error},         {"attempts", letter.attempts},
          {"failed_at", epoch_ms(letter.failed_at)},
          {"key", letter.message.key ? json(*letter.message.key) : json(nullptr)},
          {"value", letter.message.value}};
}

json to_json(const mq::Receipt& receipt) {
  json out = {{"topic", receipt.topic}, {"partition", receipt.partition}, {"offset", receipt.offset},
              {"id", receipt.id}};
  if (receipt.due) out["due"] = epoch_ms(*receipt.due);
  return out;
}

}  // namespace mqctl
