#include "mq/config.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/config_settings.hpp"
#include "mq/error.hpp"

namespace mq {
namespace {

using nlohmann::json;

const core::Setting* find_setting(std::string_view path) {
  for (const auto& setting : core::config_settings()) {
    if (setting.path == path) return &setting;
  }
  return nullptr;
}

std::string scalar_text(const json& value, const std::string& path) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_integer()) return std::to_string(value.get<long long>());
  if (value.is_number()) return fmt::format("{}", value.get<double>());
  throw Error(ErrorCode::invalid_argument,
              fmt::format("config '{}': expected a string, number or boolean, got {}", path, value.type_name()));
}

// Walks nested objects, applying each leaf by its dotted path.
void apply_object(Config& config, const json& object, const std::string& prefix) {
  for (const auto& [name, value] : object.items()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (path == "engine_properties") {
      if (!value.is_object()) {
        throw Error(ErrorCode::invalid_argument, "config 'engine_properties': expected an object");
      }
      for (const auto& [property, text] : value.items()) {
        config.engine_properties[property] = scalar_text(text, path + "." + property);
      }
    } else if (path == "environment") {
      const auto text = scalar_text(value, path);
      const auto properties = config.engine_properties;
      config = Config::defaults(text);  // must come first in the file to keep later keys
      config.engine_properties = properties;
    } else if (value.is_object()) {
      apply_object(config, value, path);
    } else {
      config.set(path, scalar_text(value, path));
    }
  }
}

bool is_secret_property(std::string_view name) {
  for (std::string_view word : {"password", "secret", "token", "key", "sasl", "credential"}) {
    if (name.find(word) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

milliseconds RetryPolicy::backoff_before(int next_attempt) const {
  double wait = static_cast<double>(initial_backoff.count());
  for (int attempt = 2; attempt < next_attempt && wait < static_cast<double>(max_backoff.count()); ++attempt) {
    wait *= multiplier;
  }
  return milliseconds(static_cast<long long>(std::min(wait, static_cast<double>(max_backoff.count()))));
}

Config Config::defaults(std::string_view environment) {
  Config config;
  if (environment == "development") {
    config.environment = "development";
    return config;  // the in-class defaults are the development ones
  }
  if (environment == "production") {
    config.environment = "production";
    config.producer.acks = Acks::all;
    config.producer.linger = milliseconds(10);
    config.producer.batch_max_messages = 10'000;
    config.consumer.retry.max_attempts = 10;
    config.consumer.start = StartPosition::earliest;
    config.embedded.fsync = FsyncPolicy::always;
    return config;
  }
  throw Error(ErrorCode::invalid_argument,
              fmt::format("unknown environment '{}' (expected development or production)", environment));
}

void Config::set(std::string_view path, std::string_view value) {
  if (path.starts_with("engine_properties.")) {
    engine_properties[std::string(path.substr(18))] = std::string(value);
    return;
  }
  const auto* setting = find_setting(path);
  if (!setting) throw Error(ErrorCode::invalid_argument, fmt::format("config: unknown key '{}'", path));
  setting->parse(*this, value);
}

Config Config::from_json(std::string_view json_text, const Config& base) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::parse_error& error) {
    throw Error(ErrorCode::invalid_argument, fmt::format("config: not valid JSON: {}", error.what()));
  }
  if (!document.is_object()) throw Error(ErrorCode::invalid_argument, "config: the top level must be an object");
  Config config = base;
  apply_object(config, document, "");
  return config;
}

Config Config::from_json_file(const std::string& path, const Config& base) {
  std::ifstream file(path);
  if (!file) throw Error(ErrorCode::not_found, fmt::format("config file '{}' cannot be opened", path));
  std::stringstream text;
  text << file.rdbuf();
  try {
    return from_json(text.str(), base);
  } catch (const Error& error) {
    throw Error(error.code(), fmt::format("{}: {}", path, error.message()));
  }
}

Config Config::load(const std::string& path) {
  const char* environment = std::getenv("MQ_ENV");
  Config config = defaults(environment && *environment ? environment : "development");
  if (!path.empty()) config = from_json_file(path, config);
  config.apply_environment();
  return config;
}

void Config::apply_environment() {
  for (const auto& setting : core::config_settings()) {
    std::string name = "MQ_";
    for (char c : setting.path) name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (const char* value = std::getenv(name.c_str())) {
      try {
        setting.parse(*this, value);
      } catch (const Error& error) {
        throw Error(error.code(), fmt::format("environment variable {}: {}", name, error.message()));
      }
    }
  }
}

std::string Config::to_json() const {
  json document = json::object();
  document["environment"] = environment;
  for (const auto& setting : core::config_settings()) {
    json* node = &document;
    std::string_view path = setting.path;
    for (auto dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.')) {
      node = &(*node)[std::string(path.substr(0, dot))];
      path = path.substr(dot + 1);
    }
    (*node)[std::string(path)] = setting.path == "url" ? redact_url(url) : setting.show(*this);
  }
  for (const auto& [name, value] : engine_properties) {
    document["engine_properties"][name] = is_secret_property(name) ? "***" : value;
  }
  return document.dump(2);
}

std::string redact_url(std::string_view url) {
  std::string result(url);
  // user:password@ -> user:***@
  const auto scheme_end = result.find("://");
  if (scheme_end != std::string::npos) {
    const auto authority_start = scheme_end + 3;
    const auto authority_end = result.find_first_of("/?", authority_start);
    const auto at = result.rfind('@', authority_end == std::string::npos ? std::string::npos : authority_end);
    if (at != std::string::npos && at >= authority_start) {
      const auto colon = result.find(':', authority_start);
      if (colon != std::string::npos && colon < at) result.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // ?password=...&token=... -> ***
  const auto question = result.find('?');
  if (question != std::string::npos) {
    std::size_t position = question + 1;
    while (position < result.size()) {
      const auto amp = result.find('&', position);
      const auto end = amp == std::string::npos ? result.size() : amp;
      const auto equals = result.find('=', position);
      if (equals != std::string::npos && equals < end &&
          is_secret_property(result.substr(position, equals - position))) {
        result.replace(equals + 1, end - equals - 1, "***");
      }
      const auto next = result.find('&', position);
      if (next == std::string::npos) break;
      position = next + 1;
    }
  }
  return result;
}

}  // namespace mq
