#include "admin/admin_command.h"

#include <charconv>
#include <vector>

#include "proxy/sql_words.h"

namespace longlink::admin {

namespace {

using proxy::sql::IsSpace;
using proxy::sql::Upper;

// The statement's words, upper-cased; punctuation other than '@', '.', '_', '(', ')' splits.
std::vector<std::string> Words(std::string_view text) {
  while (!text.empty() &&
         (IsSpace(static_cast<unsigned char>(text.back())) || text.back() == ';')) {
    text.remove_suffix(1);
  }
  std::vector<std::string> words;
  std::string word;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (IsSpace(u)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
      continue;
    }
    word += Upper(u);
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::optional<std::uint64_t> Number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<SelectItem> ItemOf(const std::string& upper) {
  if (upper == "@@VERSION_COMMENT" || upper == "@@GLOBAL.VERSION_COMMENT") {
    return SelectItem::kVersionComment;
  }
  if (upper == "@@VERSION" || upper == "VERSION()") return SelectItem::kVersion;
  if (upper == "DATABASE()" || upper == "SCHEMA()") return SelectItem::kDatabase;
  if (upper == "USER()" || upper == "CURRENT_USER()" || upper == "CURRENT_USER" ||
      upper == "SESSION_USER()" || upper == "SYSTEM_USER()") {
    return SelectItem::kUser;
  }
  if (upper == "CONNECTION_ID()") return SelectItem::kConnectionId;
  for (const char* name :
       {"@@CHARACTER_SET_CLIENT", "@@CHARACTER_SET_CONNECTION", "@@CHARACTER_SET_RESULTS",
        "@@CHARACTER_SET_SERVER", "@@CHARACTER_SET_DATABASE"}) {
    if (upper == name) return SelectItem::kCharacterSet;
  }
  for (const char* name :
       {"@@COLLATION_CONNECTION", "@@COLLATION_SERVER", "@@COLLATION_DATABASE"}) {
    if (upper == name) return SelectItem::kCollation;
  }
  if (upper == "@@MAX_ALLOWED_PACKET") return SelectItem::kMaxAllowedPacket;
  return std::nullopt;
}

// SELECT item[, item...] [LIMIT n]: every item one the console knows.
AdminCommand ParseSelect(std::string_view text) {
  while (!text.empty() &&
         (IsSpace(static_cast<unsigned char>(text.back())) || text.back() == ';')) {
    text.remove_suffix(1);
  }
  AdminCommand command;
  std::string upper;
  for (const char c : text) upper += Upper(static_cast<unsigned char>(c));
  std::string_view rest(upper);
  rest.remove_prefix(std::string_view("SELECT").size());
  std::string_view original = text.substr(std::string_view("SELECT").size());
  if (const auto limit = rest.rfind(" LIMIT "); limit != std::string_view::npos) {
    std::string_view number = rest.substr(limit + 7);
    while (!number.empty() && number.front() == ' ') number.remove_prefix(1);
    if (!Number(number)) return command;
    rest = rest.substr(0, limit);
    original = original.substr(0, limit);
  }
  std::size_t start = 0;
  while (start <= rest.size()) {
    std::size_t comma = rest.find(',', start);
    if (comma == std::string_view::npos) comma = rest.size();
    auto trim = [](std::string_view piece) {
      while (!piece.empty() && IsSpace(static_cast<unsigned char>(piece.front()))) {
        piece.remove_prefix(1);
      }
      while (!piece.empty() && IsSpace(static_cast<unsigned char>(piece.back()))) {
        piece.remove_suffix(1);
      }
      return piece;
    };
    const std::string item(trim(rest.substr(start, comma - start)));
    const auto known = ItemOf(item);
    if (!known) return AdminCommand{};
    command.select_items.push_back(*known);
    command.select_names.emplace_back(trim(original.substr(start, comma - start)));
    start = comma + 1;
  }
  command.verb = AdminVerb::kSelect;
  return command;
}

}  // namespace

AdminCommand ParseAdminCommand(std::string_view text) {
  const std::vector<std::string> words = Words(text);
  AdminCommand command;
  if (words.empty()) return command;
  const std::string& first = words[0];
  if (first == "SET") {
    command.verb = AdminVerb::kSet;
    return command;
  }
  if (first == "HELP" && words.size() == 1) {
    command.verb = AdminVerb::kShowHelp;
    return command;
  }
  if (first == "RESET" && words.size() == 2 && words[1] == "QUERIES") {
    command.verb = AdminVerb::kResetQueries;
    return command;
  }
  if (first == "SELECT") return ParseSelect(text);
  if (first != "SHOW" || words.size() < 2) return command;
  std::size_t used = 2;
  const std::string& what = words[1];
  if (what == "POOLS") {
    command.verb = AdminVerb::kShowPools;
  } else if (what == "CLIENTS") {
    command.verb = AdminVerb::kShowClients;
  } else if (what == "SERVERS") {
    command.verb = AdminVerb::kShowServers;
  } else if (what == "BACKENDS") {
    command.verb = AdminVerb::kShowBackends;
  } else if (what == "STATS") {
    command.verb = AdminVerb::kShowStats;
  } else if (what == "TOTALS") {
    command.verb = AdminVerb::kShowTotals;
  } else if (what == "QUERIES") {
    command.verb = AdminVerb::kShowQueries;
  } else if (what == "CONFIG") {
    command.verb = AdminVerb::kShowConfig;
  } else if (what == "VERSION") {
    command.verb = AdminVerb::kShowVersion;
  } else if (what == "HELP") {
    command.verb = AdminVerb::kShowHelp;
  } else {
    return command;
  }
  const bool takes_limit = command.verb == AdminVerb::kShowQueries ||
                           command.verb == AdminVerb::kShowClients ||
                           command.verb == AdminVerb::kShowServers;
  if (takes_limit && words.size() == used + 2 && words[used] == "LIMIT") {
    command.limit = Number(words[used + 1]);
    if (!command.limit) command.verb = AdminVerb::kUnknown;
    used += 2;
  }
  if (words.size() != used) command = AdminCommand{};
  return command;
}

}  // namespace longlink::admin
