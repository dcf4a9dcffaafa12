#include "pool/session_variables.h"

#include <algorithm>
#include <array>
#include <functional>

namespace longlink::pool {

namespace {

bool IsCharsetVariable(std::string_view name) {
  return name.starts_with("character_set_") || name.starts_with("collation_");
}

bool IsNumber(std::string_view value) {
  std::size_t i = 0;
  if (i < value.size() && value[i] == '-') ++i;
  const std::size_t digits_start = i;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
  if (i == digits_start) return false;
  if (i < value.size() && value[i] == '.') {
    ++i;
    const std::size_t fraction_start = i;
    while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
    if (i == fraction_start) return false;
  }
  return i == value.size();
}

void AppendAssignment(std::string* sql, const SessionVariables::Variable& variable) {
  sql->append(sql->empty() ? "SET SESSION " : ", ");
  sql->append(variable.name);
  sql->append("=");
  sql->append(SqlValue(variable.name, variable.value));
}

}  // namespace

void SessionVariables::Set(std::string_view name, std::string_view value) {
  auto old = std::find_if(list_.begin(), list_.end(),
                          [&](const Variable& variable) { return variable.name == name; });
  if (old != list_.end()) {
    bytes_ -= old->name.size() + old->value.size();
    list_.erase(old);
  }
  list_.push_back(Variable{.name = std::string(name), .value = std::string(value)});
  bytes_ += name.size() + value.size();
}

const std::string* SessionVariables::Find(std::string_view name) const {
  for (const Variable& variable : list_) {
    if (variable.name == name) return &variable.value;
  }
  return nullptr;
}

std::uint64_t SessionVariables::Fingerprint() const {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  const auto mix = [&hash](std::string_view text) {
    hash ^= std::hash<std::string_view>()(text) + 0x9e3779b97f4a7c15ULL + (hash << 6) + (hash >> 2);
  };
  for (const Variable& variable : list_) {
    mix(variable.name);
    mix(variable.value);
  }
  return hash;
}

std::optional<std::string> AssignmentsFor(const SessionVariables& from,
                                          const SessionVariables& to) {
  for (const auto& variable : from.list()) {
    if (to.Find(variable.name) == nullptr) return std::nullopt;
  }
  bool charsets_differ = false;
  for (const auto& variable : to.list()) {
    if (!IsCharsetVariable(variable.name)) continue;
    const std::string* current = from.Find(variable.name);
    if (current == nullptr || *current != variable.value) charsets_differ = true;
  }
  // The group in `from`'s order may still end elsewhere than in `to`'s order.
  if (!charsets_differ) {
    std::vector<std::string_view> from_order;
    std::vector<std::string_view> to_order;
    for (const auto& variable : from.list()) {
      if (IsCharsetVariable(variable.name)) from_order.push_back(variable.name);
    }
    for (const auto& variable : to.list()) {
      if (IsCharsetVariable(variable.name)) to_order.push_back(variable.name);
    }
    charsets_differ = from_order != to_order;
  }
  std::string sql;
  for (const auto& variable : to.list()) {
    if (IsCharsetVariable(variable.name)) {
      if (charsets_differ) AppendAssignment(&sql, variable);
      continue;
    }
    const std::string* current = from.Find(variable.name);
    if (current == nullptr || *current != variable.value) AppendAssignment(&sql, variable);
  }
  return sql;
}

std::string SqlValue(std::string_view name, std::string_view value) {
  if (IsNumber(value)) return std::string(value);
  if (value.empty() && IsCharsetVariable(name)) return "NULL";
  if (name == "system_versioning_asof" && value == "DEFAULT") return "DEFAULT";
  if (value.find('\\') != std::string_view::npos) {
    // A hex literal reads the same with or without NO_BACKSLASH_ESCAPES.
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string hex = "X'";
    for (const char c : value) {
      const auto byte = static_cast<unsigned char>(c);
      hex += kHex[byte >> 4];
      hex += kHex[byte & 0xF];
    }
    hex += '\'';
    return hex;
  }
  std::string quoted = "'";
  for (const char c : value) {
    if (c == '\'') quoted += '\'';  // Doubled.
    quoted += c;
  }
  quoted += '\'';
  return quoted;
}

bool IsOneShotVariable(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kOneShot = {
      "insert_id", "rand_seed1", "rand_seed2", "gtid_seq_no", "pseudo_thread_id"};
  return std::find(kOneShot.begin(), kOneShot.end(), name) != kOneShot.end();
}

}  // namespace longlink::pool
