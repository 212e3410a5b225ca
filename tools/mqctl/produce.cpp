// mqctl produce TOPIC [VALUE...]: values from the arguments, or one per stdin line.
#include <iostream>

#include "common.hpp"

namespace mqctl {
namespace {

struct ProduceArgs {
  std::string topic;
  std::vector<std::string> values;
  std::string key;
  bool has_key = false;
  std::vector<std::string> headers;  // name=value
  bool quiet = false;
};

// Stdin may be large: send it in batches this size (one engine round trip each).
constexpr std::size_t stdin_batch = 1000;

mq::Message make_message(const ProduceArgs& args, std::string value) {
  mq::Message message(args.topic, std::move(value));
  if (args.has_key) message.key = args.key;
  for (const auto& header : args.headers) {
    const auto equals = header.find('=');
    message.headers.add(header.substr(0, equals), header.substr(equals + 1));
  }
  return message;
}

void print_receipt(const mq::Receipt& receipt) {
  std::cout << receipt.topic << '\t' << receipt.partition << '\t' << receipt.offset << '\t' << receipt.id << '\n';
}

int produce(const Globals& globals, const ProduceArgs& args) {
  auto client = connect(globals);
  auto producer = client.producer();
  std::size_t count = 0;
  if (!args.values.empty()) {
    // Few values from the command line: show where each one went.
    for (const auto& value : args.values) {
      const auto receipt = producer.send(make_message(args, value));
      if (!args.quiet) print_receipt(receipt);
      ++count;
    }
  } else {
    // Stdin can be millions of lines: batch them and print only the count.
    std::vector<mq::Message> batch;
    std::string line;
    while (std::getline(std::cin, line)) {
      batch.push_back(make_message(args, std::move(line)));
      if (batch.size() == stdin_batch) {
        count += producer.send_batch(std::move(batch)).size();
        batch.clear();
      }
    }
    if (!batch.empty()) count += producer.send_batch(std::move(batch)).size();
  }
  producer.close();
  std::cerr << "produced " << count << (count == 1 ? " message" : " messages") << " to " << args.topic << " ("
            << client.url() << ")\n";
  return 0;
}

}  // namespace

void add_produce_command(CLI::App& app, const Globals& globals, Action& action) {
  auto args = std::make_shared<ProduceArgs>();
  auto* produce_cmd = app.add_subcommand("produce", "Send messages: the VALUE arguments, or one per stdin line");
  produce_cmd->add_option("topic", args->topic, "Topic to send to")->required();
  produce_cmd->add_option("values", args->values, "Message values (none: read stdin, one message per line)");
  produce_cmd->add_option("--key", args->key, "Key of every message (same key: same partition, in order)");
  produce_cmd->add_option("--header", args->headers, "Header name=value (repeatable)")
      ->check([](const std::string& text) {
        return text.find('=') == std::string::npos || text.front() == '='
                   ? std::string("expected name=value, got '" + text + "'")
                   : std::string();
      });
  produce_cmd->add_flag("-q,--quiet", args->quiet, "Do not print a receipt per argument value");
  produce_cmd->callback([&globals, &action, args, produce_cmd] {
    args->has_key = produce_cmd->count("--key") > 0;
    action = [&globals, args] { return produce(globals, *args); };
  });
}

}  // namespace mqctl
