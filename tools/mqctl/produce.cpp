// mqctl produce TOPIC [VALUE...]: values from the arguments, a file, or stdin lines.
#include <fstream>
#include <iostream>

#include "common.hpp"

namespace mqctl {
namespace {

struct ProduceArgs {
  std::string topic;
  std::vector<std::string> values;
  std::string file;  // one message per line; "-" or empty without values: stdin
  std::string key;
  bool has_key = false;
  std::vector<std::string> headers;  // name=value
  std::string delay;                 // empty: at once
  int priority = 0;
  bool quiet = false;
};

// Lines may be many: send them in batches this size (one engine round trip each).
constexpr std::size_t line_batch = 1000;

mq::Message make_message(const ProduceArgs& args, std::string value) {
  mq::Message message(args.topic, std::move(value));
  if (args.has_key) message.key = args.key;
  message.priority = args.priority;
  for (const auto& header : args.headers) {
    const auto equals = header.find('=');
    message.headers.add(header.substr(0, equals), header.substr(equals + 1));
  }
  return message;
}

class Sender {
 public:
  Sender(mq::Producer& producer, std::chrono::milliseconds delay) : producer_(producer), delay_(delay) {}

  mq::Receipt send(mq::Message message) {
    ++count_;
    return delay_.count() > 0 ? producer_.send_after(std::move(message), delay_) : producer_.send(std::move(message));
  }
  // Batches only without a delay: send_after takes one message at a time.
  void add(mq::Message message) {
    if (delay_.count() > 0) {
      send(std::move(message));
      return;
    }
    batch_.push_back(std::move(message));
    if (batch_.size() == line_batch) flush();
  }
  void flush() {
    if (batch_.empty()) return;
    count_ += producer_.send_batch(std::move(batch_)).size();
    batch_.clear();
  }
  std::size_t count() const { return count_; }

 private:
  mq::Producer& producer_;
  std::chrono::milliseconds delay_;
  std::vector<mq::Message> batch_;
  std::size_t count_ = 0;
};

void send_lines(std::istream& in, const ProduceArgs& args, Sender& sender) {
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    sender.add(make_message(args, std::move(line)));
  }
  sender.flush();
}

int produce(const Globals& globals, const ProduceArgs& args) {
  const auto delay = args.delay.empty() ? std::chrono::milliseconds(0) : parse_duration(args.delay, "--delay");
  std::ifstream file;
  if (!args.file.empty() && args.file != "-") {
    file.open(args.file);
    if (!file) throw mq::Error(mq::ErrorCode::not_found, "cannot open '" + args.file + "'");
  }
  auto client = connect(globals);
  auto producer = client.producer();
  Sender sender(producer, delay);
  json receipts = json::array();
  if (!args.values.empty()) {
    // Few values from the command line: show where each one went.
    for (const auto& value : args.values) {
      const auto receipt = sender.send(make_message(args, value));
      if (globals.json) receipts.push_back(to_json(receipt));
      else if (!args.quiet) std::cout << receipt.topic << '\t' << receipt.partition << '\t' << receipt.offset << '\t' << receipt.id << '\n';
    }
  } else {
    // Files and stdin can be millions of lines: print only the count.
    send_lines(file.is_open() ? static_cast<std::istream&>(file) : std::cin, args, sender);
  }
  producer.close();
  const auto count = sender.count();
  if (globals.json) {
    json out = {{"topic", args.topic}, {"produced", count}};
    if (!args.values.empty()) out["receipts"] = std::move(receipts);
    print_json(out);
  }
  std::cerr << "produced " << count << (count == 1 ? " message" : " messages") << " to " << args.topic << " ("
            << client.url() << ")\n";
  return exit_ok;
}

}  // namespace

void add_produce_command(CLI::App& app, Globals& globals, Action& action) {
  auto args = std::make_shared<ProduceArgs>();
  auto* produce_cmd =
      app.add_subcommand("produce", "Send messages: the VALUE arguments, or one per line of --file or stdin");
  produce_cmd->add_option("topic", args->topic, "Topic to send to")->required();
  produce_cmd->add_option("values", args->values, "Message values (none: read --file or stdin, one per line)");
  produce_cmd->add_option("-f,--file", args->file, "Read values from this file, one per line ('-': stdin)");
  produce_cmd->add_option("-k,--key", args->key, "Key of every message (same key: same partition, in order)");
  produce_cmd->add_option("-H,--header", args->headers, "Header name=value (repeatable)")
      ->allow_extra_args(false)  // -H a=b VALUE: VALUE is a message, not a second header
      ->check([](const std::string& text) {
        return text.find('=') == std::string::npos || text.front() == '='
                   ? std::string("expected name=value, got '" + text + "'")
                   : std::string();
      });
  produce_cmd->add_option("--delay", args->delay, "Deliver no earlier than this from now (e.g. 30s)");
  produce_cmd->add_option("--priority", args->priority, "Priority 0-9 (engines with the capability)")
      ->check(CLI::Range(0, 9));
  produce_cmd->add_flag("-q,--quiet", args->quiet, "Do not print a receipt per argument value");
  add_json_flag(*produce_cmd, globals);
  produce_cmd->callback([&globals, &action, args, produce_cmd] {
    args->has_key = produce_cmd->count("--key") > 0;
    action = [&globals, args] {
      if (!args->values.empty() && !args->file.empty()) {
        throw CLI::ValidationError("--file", "give values or --file, not both");
      }
      return produce(globals, *args);
    };
  });
}

}  // namespace mqctl
