#include "proxy/kill_statement.h"

#include <cctype>
#include <charconv>
#include <string>
#include <utility>
#include <vector>

namespace longlink::proxy {

namespace {

bool IsBlank(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
}

}  // namespace

std::optional<KillStatement> ParseKillStatement(std::string_view text) {
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos || text.size() - start < 4) return std::nullopt;
  for (std::size_t i = 0; i < 4; ++i) {  // Most queries stop here, without allocating.
    if (std::toupper(static_cast<unsigned char>(text[start + i])) != "KILL"[i]) {
      return std::nullopt;
    }
  }
  if (text.size() - start > 4 && IsWordChar(text[start + 4])) return std::nullopt;  // KILLER

  KillStatement other;  // What anything unexpected is.
  // The leading words, up to the first character that is neither a word's nor a blank.
  std::vector<std::string> words;
  std::size_t pos = start;
  while (pos < text.size() && words.size() < 6) {
    if (IsBlank(text[pos])) {
      ++pos;
      continue;
    }
    if (!IsWordChar(text[pos])) break;
    std::string word;
    while (pos < text.size() && IsWordChar(text[pos])) {
      word += static_cast<char>(std::toupper(static_cast<unsigned char>(text[pos])));
      ++pos;
    }
    words.push_back(std::move(word));
  }
  // After the words: nothing, or one ';' and blanks.
  std::string_view rest = text.substr(pos);
  if (!rest.empty() && rest.front() == ';') rest.remove_prefix(1);
  const bool rest_is_blank = rest.find_first_not_of(" \t\r\n") == std::string_view::npos;

  KillStatement kill;
  std::size_t i = 1;  // words[0] is KILL.
  if (i < words.size() && (words[i] == "HARD" || words[i] == "SOFT")) {
    kill.strength =
        words[i] == "HARD" ? KillStatement::Strength::kHard : KillStatement::Strength::kSoft;
    ++i;
  }
  if (i < words.size() && (words[i] == "QUERY" || words[i] == "CONNECTION")) {
    kill.query_only = words[i] == "QUERY";
    ++i;
  }
  if (i < words.size() && words[i] == "USER") {  // The server parses the user name.
    kill.target = KillStatement::Target::kUser;
    return kill;
  }
  kill.target = KillStatement::Target::kThread;
  if (kill.query_only && i < words.size() && words[i] == "ID") {
    kill.target = KillStatement::Target::kQueryId;
    ++i;
  }
  if (i + 1 != words.size() || !rest_is_blank) return other;
  const std::string& number = words[i];
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), kill.id);
  if (error != std::errc() || end != number.data() + number.size()) return other;
  return kill;
}

}  // namespace longlink::proxy
