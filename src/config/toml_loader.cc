#include "config/toml_loader.h"

#include <charconv>
#include <limits>

namespace longlink::config {

namespace {
constexpr std::int64_t kMaxMilliseconds = std::numeric_limits<std::int64_t>::max();
}  // namespace

std::string Quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string Joined(std::initializer_list<std::string_view> names) {
  std::string text;
  for (auto name : names) text += (text.empty() ? "" : ", ") + std::string(name);
  return text;
}

Error Loader::Fail(const toml::node* node, std::string_view key, std::string_view message) const {
  std::string where(source_);
  if (node != nullptr && node->source().begin.line > 0) {
    where += ":" + std::to_string(node->source().begin.line);
  }
  return Error{where + ": " + std::string(key) + ": " + std::string(message)};
}

Status Loader::CheckKeys(const toml::table& table, std::string_view prefix,
                         std::initializer_list<std::string_view> known) const {
  const toml::node* first = nullptr;
  std::string first_name;
  for (const auto& [name, node] : table) {
    bool found = false;
    for (auto k : known) found = found || name.str() == k;
    if (found) continue;
    if (first == nullptr || node.source().begin.line < first->source().begin.line) {
      first = &node;
      first_name = std::string(name.str());
    }
  }
  if (first == nullptr) return Status();
  const bool top = prefix.empty();
  const std::string key = top ? first_name : std::string(prefix) + "." + first_name;
  return Fail(first, key,
              std::string(top && first->is_table() ? "unknown table" : "unknown key") +
                  "; expected one of " + Joined(known));
}

Error Loader::WrongType(const toml::node& node, std::string_view key,
                        std::string_view expected) const {
  return Fail(&node, key,
              "expected " + std::string(expected) + ", got " + std::string(TypeName(node)));
}

Result<std::string> Loader::String(const toml::node& node, std::string_view key) const {
  if (!node.is_string()) return WrongType(node, key, "a string");
  return std::string(node.as_string()->get());
}

Result<std::int64_t> Loader::Integer(const toml::node& node, std::string_view key, std::int64_t min,
                                     std::int64_t max) const {
  if (!node.is_integer()) return WrongType(node, key, "an integer");
  const std::int64_t value = node.as_integer()->get();
  if (value < min || value > max) {
    return Fail(&node, key,
                "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                    std::to_string(value));
  }
  return value;
}

Result<Milliseconds> Loader::Duration(const toml::node& node, std::string_view key) const {
  if (node.is_integer()) {
    const std::int64_t seconds = node.as_integer()->get();
    if (seconds > kMaxMilliseconds / 1000 || seconds < -kMaxMilliseconds / 1000) {
      return Fail(&node, key, std::to_string(seconds) + " seconds is too long");
    }
    return Milliseconds(seconds * 1000);
  }
  if (!node.is_string()) {
    return WrongType(node, key, "a duration (\"500ms\", \"5s\", \"2m\", \"1h\") or seconds");
  }
  auto duration = ParseDuration(node.as_string()->get());
  if (!duration.ok()) return Fail(&node, key, duration.error().message);
  return *duration;
}

Result<std::uint64_t> Loader::Size(const toml::node& node, std::string_view key) const {
  if (node.is_integer()) {
    const std::int64_t value = node.as_integer()->get();
    if (value < 0) return Fail(&node, key, "must not be negative, got " + std::to_string(value));
    return static_cast<std::uint64_t>(value);
  }
  if (!node.is_string()) return WrongType(node, key, "a size (bytes or \"16MiB\")");
  auto size = ParseSize(node.as_string()->get());
  if (!size.ok()) return Fail(&node, key, size.error().message);
  return *size;
}

Result<std::uint32_t> Loader::Mode(const toml::node& node, std::string_view key) const {
  if (node.is_integer()) {
    auto value = Integer(node, key, 0, std::numeric_limits<std::uint32_t>::max());
    if (!value.ok()) return value.error();
    return static_cast<std::uint32_t>(*value);
  }
  if (!node.is_string()) return WrongType(node, key, "an octal string such as \"0660\"");
  const std::string& text = node.as_string()->get();
  std::uint32_t mode = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), mode, 8);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Fail(&node, key, Quoted(text) + " is not an octal mode like \"0660\"");
  }
  return mode;
}

Result<SocketAddress> Loader::Address(const toml::node& node, std::string_view key) const {
  if (!node.is_string()) return WrongType(node, key, "a string such as \"127.0.0.1:3306\"");
  auto address = ParseSocketAddress(node.as_string()->get());
  if (!address.ok()) return Fail(&node, key, address.error().message);
  return *address;
}

Result<bool> Loader::Bool(const toml::node& node, std::string_view key) const {
  if (!node.is_boolean()) return WrongType(node, key, "true or false");
  return node.as_boolean()->get();
}

}  // namespace longlink::config
