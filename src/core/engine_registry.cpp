#include "core/engine_registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <future>

#include "mq/error.hpp"

namespace mq::core {
namespace {

[[noreturn]] void bad_url(std::string_view redacted, std::string_view problem) {
  throw Error(ErrorCode::invalid_argument, fmt::format("invalid URL '{}': {}", redacted, problem));
}

std::string percent_decode(std::string_view text, std::string_view redacted) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size() ||
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16).ptr != text.data() + i + 3) {
      bad_url(redacted, "bad percent-escape");
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::pair<std::string, int> parse_host(std::string_view text, std::string_view redacted) {
  if (text.empty()) bad_url(redacted, "empty host");
  std::string_view host = text;
  int port = 0;
  std::size_t colon = std::string_view::npos;
  if (text.front() == '[') {  // [::1]:6379
    const auto close = text.find(']');
    if (close == std::string_view::npos) bad_url(redacted, "unterminated '[' in host");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') bad_url(redacted, "junk after ']' in host");
      colon = close + 1;
    }
  } else {
    colon = text.rfind(':');
    if (colon != std::string_view::npos) host = text.substr(0, colon);
  }
  if (colon != std::string_view::npos) {
    const auto digits = text.substr(colon + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (error != std::errc() || end != digits.data() + digits.size() || port <= 0 || port > 65535) {
      bad_url(redacted, fmt::format("bad port '{}'", digits));
    }
  }
  if (host.empty()) bad_url(redacted, "empty host");
  return {std::string(host), port};
}

}  // namespace

const std::vector<std::string>& known_schemes() {
  static const std::vector<std::string> schemes = {"embedded", "memory", "redis", "rediss", "amqp",
                                                   "amqps",    "kafka",  "nats",  "nsq",    "rocketmq"};
  return schemes;
}

EngineUrl parse_url(std::string_view url) {
  EngineUrl result;
  result.redacted = redact_url(url);
  const auto separator = url.find("://");
  if (separator == std::string_view::npos || separator == 0) {
    bad_url(result.redacted, "expected scheme://...");
  }
  result.scheme = std::string(url.substr(0, separator));
  for (auto& c : result.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = url.substr(separator + 3);

  if (const auto question = rest.find('?'); question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    rest = rest.substr(0, question);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto pair = query.substr(0, amp);
      const auto equals = pair.find('=');
      if (equals == 0 || pair.empty()) bad_url(result.redacted, "empty query parameter name");
      const auto name = percent_decode(pair.substr(0, equals), result.redacted);
      result.query[name] =
          equals == std::string_view::npos ? "" : percent_decode(pair.substr(equals + 1), result.redacted);
      if (amp == std::string_view::npos) break;
      query = query.substr(amp + 1);
    }
  }

  if (result.scheme == "embedded" || result.scheme == "memory") {
    result.path = percent_decode(rest, result.redacted);
    return result;
  }

  std::string_view authority = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    result.path = percent_decode(rest.substr(slash + 1), result.redacted);
  }
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    result.user = percent_decode(userinfo.substr(0, colon), result.redacted);
    if (colon != std::string_view::npos) {
      result.password = percent_decode(userinfo.substr(colon + 1), result.redacted);
    }
  }
  while (!authority.empty()) {
    const auto comma = authority.find(',');
    result.hosts.push_back(parse_host(authority.substr(0, comma), result.redacted));
    if (comma == std::string_view::npos) break;
    authority = authority.substr(comma + 1);
  }
  if (result.hosts.empty()) bad_url(result.redacted, "no host");
  return result;
}

std::shared_ptr<Engine> open_engine(const std::string& url, const Config& config) {
  const auto parsed = parse_url(url);
  const auto& built = engines::built_engines();
  if (const auto it = built.find(parsed.scheme); it != built.end()) return it->second(parsed, config);
  const auto& known = known_schemes();
  if (std::find(known.begin(), known.end(), parsed.scheme) != known.end()) {
    std::vector<std::string> available;
    for (const auto& [scheme, factory] : built) available.push_back(scheme);
    throw Error(ErrorCode::not_supported,
                fmt::format("engine '{}' is not part of this build of mq (built: {})", parsed.scheme,
                            fmt::join(available, ", ")));
  }
  throw Error(ErrorCode::invalid_argument,
              fmt::format("unknown URL scheme '{}' in '{}'; known schemes: {}", parsed.scheme,
                          parsed.redacted, fmt::join(known, ", ")));
}

std::optional<std::vector<AppendResult>> append_and_wait(Engine& engine, std::vector<Envelope> batch, Acks acks,
                                                         milliseconds timeout) {
  auto promise = std::make_shared<std::promise<std::vector<AppendResult>>>();
  auto answer = promise->get_future();
  engine.append(std::move(batch), acks,
                [promise](std::vector<AppendResult>&& results) { promise->set_value(std::move(results)); });
  if (timeout == milliseconds::max()) answer.wait();
  else if (answer.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return answer.get();
}

}  // namespace mq::core
