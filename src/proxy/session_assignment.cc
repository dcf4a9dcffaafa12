#include "proxy/session_assignment.h"

#include <algorithm>
#include <vector>

#include "proxy/sql_words.h"

namespace longlink::proxy {

namespace {

using sql::IsAsciiWordByte;
using sql::IsDigit;
using sql::IsSpace;
using sql::Lower;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() &&
         (IsSpace(static_cast<unsigned char>(text.back())) || text.back() == ';')) {
    text.remove_suffix(1);
  }
  return text;
}

bool StartsWithWord(std::string_view text, std::string_view word) {
  if (text.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (Lower(static_cast<unsigned char>(text[i])) != word[i]) return false;
  }
  return text.size() == word.size() ||
         !IsAsciiWordByte(static_cast<unsigned char>(text[word.size()]));
}

bool EqualsLower(std::string_view text, std::string_view lower) {
  return text.size() == lower.size() && StartsWithWord(text, lower);
}

// Splits `text` at commas outside quotes and parentheses.
std::vector<std::string_view> SplitAssignments(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  char quote = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == '\\' && quote != '`') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') quote = c;
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

}  // namespace

SessionAssignment FindSessionAssignment(std::string_view text, std::string_view name) {
  using Kind = SessionAssignment::Kind;
  SessionAssignment found;
  text = Trim(text);
  if (!StartsWithWord(text, "set")) return found;
  text = Trim(text.substr(3));
  // SET SESSION / SET LOCAL apply to the whole list; SET GLOBAL makes it all global.
  bool list_global = false;
  if (StartsWithWord(text, "global") || StartsWithWord(text, "persist")) list_global = true;
  for (std::string_view part : SplitAssignments(text)) {
    part = Trim(part);
    bool global = list_global;
    for (;;) {  // Scope words and prefixes before the name.
      if (StartsWithWord(part, "session") || StartsWithWord(part, "local")) {
        global = false;
        part = Trim(part.substr(part[0] == 's' || part[0] == 'S' ? 7 : 5));
      } else if (StartsWithWord(part, "global") || StartsWithWord(part, "persist")) {
        global = true;
        part = Trim(part.substr(part[0] == 'g' || part[0] == 'G' ? 6 : 7));
      } else if (part.starts_with("@@")) {
        part.remove_prefix(2);
        global = false;
        for (std::string_view scope : {"session.", "local.", "global.", "persist."}) {
          if (part.size() >= scope.size() &&
              StartsWithWord(part.substr(0, scope.size() - 1), scope.substr(0, scope.size() - 1)) &&
              part[scope.size() - 1] == '.') {
            global = scope == "global." || scope == "persist.";
            part.remove_prefix(scope.size());
            break;
          }
        }
      } else {
        break;
      }
    }
    std::size_t equals = part.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view variable = part.substr(0, equals);
    if (!variable.empty() && variable.back() == ':') variable.remove_suffix(1);
    variable = Trim(variable);
    if (!EqualsLower(variable, name)) continue;
    if (global) {
      found = SessionAssignment{};
      continue;
    }
    const std::string_view value = Trim(part.substr(equals + 1));
    found = SessionAssignment{.kind = Kind::kOther, .value = value};
    if (EqualsLower(value, "default")) {
      found.kind = Kind::kDefault;
    } else if (!value.empty() &&
               std::all_of(value.begin(), value.end(),
                           [](char c) { return IsDigit(static_cast<unsigned char>(c)); }) &&
               value.size() <= 18) {
      found.kind = Kind::kNumber;
      std::int64_t number = 0;
      for (char c : value) number = number * 10 + (c - '0');
      found.number = number;
    }
  }
  return found;
}

}  // namespace longlink::proxy
