#include "proxy/kill_statement.h"

#include <algorithm>
#include <charconv>

#include "proxy/sql_words.h"

namespace longlink::proxy {

namespace {

using sql::IsAsciiWordByte;
using sql::IsDigit;
using sql::IsSpace;
using sql::Upper;

bool IsBlank(char c) { return IsSpace(static_cast<unsigned char>(c)); }

// The word at `pos` (after blanks), uppercased, and where it ends; empty if none starts there.
std::string_view::size_type NextWord(std::string_view text, std::size_t pos, std::string* word) {
  while (pos < text.size() && IsBlank(text[pos])) ++pos;
  word->clear();
  std::size_t end = pos;
  while (end < text.size() && IsAsciiWordByte(static_cast<unsigned char>(text[end]))) {
    *word += Upper(static_cast<unsigned char>(text[end]));
    ++end;
  }
  return end;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  if (!text.empty() && text.back() == ';') text.remove_suffix(1);
  while (!text.empty() && IsBlank(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string KillStatement::Render(std::uint64_t thread) const {
  std::string statement = "KILL ";
  if (strength == Strength::kHard) statement += "HARD ";
  if (strength == Strength::kSoft) statement += "SOFT ";
  statement += query_only ? "QUERY " : "CONNECTION ";
  statement += std::to_string(thread);
  return statement;
}

std::optional<KillStatement> ParseKillStatement(std::string_view text) {
  std::size_t start = 0;  // Blanks as the server's lexer takes them (\v and \f too).
  while (start < text.size() && IsBlank(text[start])) ++start;
  if (text.size() - start < 4) return std::nullopt;
  for (std::size_t i = 0; i < 4; ++i) {  // Most queries stop here, without allocating.
    if (Upper(static_cast<unsigned char>(text[start + i])) != "KILL"[i]) {
      return std::nullopt;
    }
  }
  if (text.size() - start > 4 && sql::IsWordByte(static_cast<unsigned char>(text[start + 4]))) {
    return std::nullopt;  // KILLER, or KILLé: an identifier to the server.
  }

  KillStatement kill;
  std::string word;
  std::size_t pos = start + 4;  // Where the target starts once the keywords are read.
  std::size_t end = NextWord(text, pos, &word);
  if (word == "HARD" || word == "SOFT") {
    kill.strength =
        word == "HARD" ? KillStatement::Strength::kHard : KillStatement::Strength::kSoft;
    pos = end;
    end = NextWord(text, pos, &word);
  }
  if (word == "QUERY" || word == "CONNECTION") {
    kill.query_only = word == "QUERY";
    pos = end;
    end = NextWord(text, pos, &word);
  }
  if (word == "USER") {  // The server parses the user name.
    kill.target = KillStatement::Target::kUser;
    return kill;
  }
  if (kill.query_only && word == "ID") {  // The server evaluates the query id.
    kill.target = KillStatement::Target::kQueryId;
    return kill;
  }
  const std::string_view target = Trim(text.substr(pos));
  if (target.empty()) return kill;  // kOther.
  const bool digits = std::all_of(target.begin(), target.end(),
                                  [](char c) { return IsDigit(static_cast<unsigned char>(c)); });
  if (digits) {
    const auto [number_end, error] =
        std::from_chars(target.data(), target.data() + target.size(), kill.id);
    if (error == std::errc() && number_end == target.data() + target.size()) {
      kill.target = KillStatement::Target::kThread;
      return kill;
    }
  }
  kill.target = KillStatement::Target::kExpression;
  kill.expression = std::string(target);
  return kill;
}

}  // namespace longlink::proxy
