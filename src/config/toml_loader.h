// Reading the proxy's TOML file: a Loader turns toml++ nodes into typed values with errors
// that name the file, line and key ("longlink.toml:12: pool.min_idle: ..."), and a
// ConfigProblem is a rule a finished config breaks. Shared by the parts of the config (the .cc
// files of src/config and its internal headers: *_loader.h, proxy_config_rules.h); toml++
// stays out of every other header.
#pragma once

#include <toml++/toml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/proxy_config.h"

namespace longlink::config {

// 'text', for messages.
std::string Quoted(std::string_view text);
// "a table", "a string", ...: what a node is, for messages.
std::string_view TypeName(const toml::node& node);
// "a, b, c".
std::string Joined(std::initializer_list<std::string_view> names);

// A rule a config breaks: the key its message names, what is wrong, and the TOML path of the
// value a file's error points at ("users[1].name"; empty = the key).
struct ConfigProblem {
  std::string key;
  std::string message;
  std::string path = {};
};

// Turns TOML nodes into typed values. Errors read "source:line: key: message"; the line is
// left out where toml++ does not know one.
class Loader {
 public:
  explicit Loader(std::string_view source) : source_(source) {}

  Error Fail(const toml::node* node, std::string_view key, std::string_view message) const;
  // Unknown keys are errors; of several, the one on the earliest line is reported.
  Status CheckKeys(const toml::table& table, std::string_view prefix,
                   std::initializer_list<std::string_view> known) const;
  Error WrongType(const toml::node& node, std::string_view key, std::string_view expected) const;

  Result<std::string> String(const toml::node& node, std::string_view key) const;
  Result<bool> Bool(const toml::node& node, std::string_view key) const;
  Result<std::int64_t> Integer(const toml::node& node, std::string_view key, std::int64_t min,
                               std::int64_t max) const;
  // A string with a unit, or an integer number of seconds.
  Result<Milliseconds> Duration(const toml::node& node, std::string_view key) const;
  // An integer number of bytes, or a string with a binary unit.
  Result<std::uint64_t> Size(const toml::node& node, std::string_view key) const;
  // An octal string ("0660") or an integer (TOML's 0o660, or decimal 432).
  Result<std::uint32_t> Mode(const toml::node& node, std::string_view key) const;
  Result<SocketAddress> Address(const toml::node& node, std::string_view key) const;

 private:
  std::string_view source_;
};

// `auto var = expr;` returning its error from the enclosing function if it failed.
#define LL_CONFIG_TRY(var, expr) \
  auto var = (expr);             \
  if (!var.ok()) return var.error();

}  // namespace longlink::config
