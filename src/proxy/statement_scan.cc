#include "proxy/statement_scan.h"

#include <array>
#include <vector>

#include "proxy/sql_words.h"

namespace longlink::proxy {

namespace {

using sql::IsAsciiWordByte;
using sql::IsDigit;
using sql::IsSpace;
using sql::Lower;
using sql::Upper;

struct KeywordRule {
  std::string_view word;
  PinReason keeps_state;  // kNone: the word only reads the previous statement's results.
};

// Words (outside quotes) that make a statement leave session state, or read what the previous
// statement left.
constexpr std::array kKeywordRules = {
    KeywordRule{"GET_LOCK", PinReason::kGetLock},
    KeywordRule{"LOCK", PinReason::kLockTables},
    KeywordRule{"HANDLER", PinReason::kHandler},
    KeywordRule{"CALL", PinReason::kCall},
    KeywordRule{"PREPARE", PinReason::kSqlPrepare},
    KeywordRule{"EXECUTE", PinReason::kSqlPrepare},
    KeywordRule{"DEALLOCATE", PinReason::kSqlPrepare},
    KeywordRule{"XA", PinReason::kXa},
    KeywordRule{"TEMPORARY", PinReason::kTemporaryTable},
    KeywordRule{"LAST_INSERT_ID", PinReason::kLastInsertId},
    KeywordRule{"NEXTVAL", PinReason::kSequence},
    KeywordRule{"SETVAL", PinReason::kSequence},
    KeywordRule{"NEXT", PinReason::kSequence},
    KeywordRule{"FOUND_ROWS", PinReason::kNone},
    KeywordRule{"ROW_COUNT", PinReason::kNone},
    KeywordRule{"WARNINGS", PinReason::kNone},
    KeywordRule{"ERRORS", PinReason::kNone},
    KeywordRule{"WARNING_COUNT", PinReason::kNone},
    KeywordRule{"ERROR_COUNT", PinReason::kNone},
    KeywordRule{"IDENTITY", PinReason::kNone},
    KeywordRule{"INSERT_ID", PinReason::kNone},
    KeywordRule{"LASTVAL", PinReason::kNone},
    KeywordRule{"PREVIOUS", PinReason::kNone},
    KeywordRule{"BACKUP", PinReason::kLockTables},  // BACKUP STAGE, BACKUP LOCK.
    KeywordRule{"SQL_CALC_FOUND_ROWS", PinReason::kFoundRows},
};

// What the scanner saw besides keywords, for the replayable-SET rule.
struct Seen {
  bool user_variable = false;          // A user variable is assigned (read only: not counted).
  bool into = false;                   // INTO (SELECT ... INTO @v, LOAD DATA ... INTO TABLE (@v)).
  std::string statement_keyword = {};  // The current statement's first word.
  bool parenthesis = false;
  bool select = false;
  bool global = false;
  bool session = false;
  bool transaction = false;
  bool statement_start = true;  // Nothing but blanks and comments since the start or a ';'.
};

// `call_without_arguments`: the word is followed by "()" (LAST_INSERT_ID() reads the value,
// LAST_INSERT_ID(expr) sets it).
void OnWord(std::string_view word, bool call_without_arguments, StatementScan* scan, Seen* seen) {
  if (scan->first_keyword.empty()) scan->first_keyword = word;
  if (seen->statement_start && word == "KILL") scan->kill = true;
  if (seen->statement_start) seen->statement_keyword = word;
  seen->statement_start = false;
  for (const auto& rule : kKeywordRules) {
    if (word != rule.word) continue;
    if (word == "LAST_INSERT_ID" && call_without_arguments) continue;
    if (rule.keeps_state != PinReason::kNone) {
      if (scan->keeps_state == PinReason::kNone) scan->keeps_state = rule.keeps_state;
    } else {
      scan->reads_previous = true;
    }
  }
  if (word == "SELECT") seen->select = true;
  if (word == "INTO") seen->into = true;
  if (word == "GLOBAL" || word == "PERSIST") seen->global = true;
  if (word == "SESSION" || word == "LOCAL") seen->session = true;
  if (word == "TRANSACTION") seen->transaction = true;
  if (word == "WAIT_TIMEOUT") scan->names_wait_timeout = true;
  if (word == "PROFILING" || word == "PROFILING_HISTORY_SIZE") scan->names_profiling = true;
  if (word == "SESSION_TRACK_STATE_CHANGE") scan->names_state_change_tracking = true;
  if (word.starts_with("SESSION_TRACK_")) scan->names_session_tracking = true;
  if (word == "CONNECTION_ID" || word == "PSEUDO_THREAD_ID") scan->names_connection_id = true;
  if (word == "PROCESSLIST") scan->names_processlist = true;
}

// The collation of `SET NAMES charset COLLATE collation` (quoted or not); "" if `text` is not
// such a statement.
std::string SetNamesCollation(std::string_view text) {
  std::vector<std::string> tokens;  // The first few, uppercase for words.
  std::size_t i = 0;
  while (i < text.size() && tokens.size() < 6) {
    const char c = text[i];
    if (IsSpace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    std::string token;
    if (c == '\'' || c == '"' || c == '`') {
      const std::size_t close = text.find(c, i + 1);
      if (close == std::string_view::npos) return "";
      token = text.substr(i + 1, close - i - 1);
      i = close + 1;
    } else if (IsAsciiWordByte(static_cast<unsigned char>(c))) {
      while (i < text.size() && IsAsciiWordByte(static_cast<unsigned char>(text[i]))) {
        token += text[i++];
      }
    } else {
      token = c;
      ++i;
    }
    tokens.push_back(std::move(token));
  }
  auto upper = [](std::string word) {
    for (char& c : word) c = Upper(static_cast<unsigned char>(c));
    return word;
  };
  if (tokens.size() < 5 || upper(tokens[0]) != "SET" || upper(tokens[1]) != "NAMES" ||
      upper(tokens[3]) != "COLLATE") {
    return "";
  }
  std::string collation = tokens[4];
  for (char& c : collation) c = Lower(static_cast<unsigned char>(c));
  return collation;
}

// True if the user variable whose name starts at `pos` (after its '@') is followed by ":=".
// A bare name is read as the server reads one: non-ASCII characters belong to it (`@café`).
bool AssignedAt(std::string_view text, std::size_t pos) {
  if (pos < text.size() && (text[pos] == '\'' || text[pos] == '"' || text[pos] == '`')) {
    const std::size_t close = text.find(text[pos], pos + 1);
    pos = close == std::string_view::npos ? text.size() : close + 1;
  } else {
    while (pos < text.size() &&
           (sql::IsWordByte(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) {
      ++pos;
    }
  }
  while (pos < text.size() && IsSpace(static_cast<unsigned char>(text[pos]))) ++pos;
  return pos + 1 < text.size() && text[pos] == ':' && text[pos + 1] == '=';
}

// True if `text` from `pos` is "()" (blanks allowed around and inside).
bool EmptyParentheses(std::string_view text, std::size_t pos) {
  auto skip_blanks = [&] {
    while (pos < text.size() && IsSpace(static_cast<unsigned char>(text[pos]))) ++pos;
  };
  skip_blanks();
  if (pos >= text.size() || text[pos] != '(') return false;
  ++pos;
  skip_blanks();
  return pos < text.size() && text[pos] == ')';
}

}  // namespace

StatementScan ScanStatement(std::string_view text) {
  StatementScan scan;
  Seen seen;
  std::string word;
  bool word_too_long = false;
  bool ended = false;  // A ';' was seen; anything but space or comments after it is a 2nd one.
  const std::size_t n = text.size();
  std::size_t i = 0;
  auto flush_word = [&] {
    if (!word.empty() && !word_too_long) {
      OnWord(word, word == "LAST_INSERT_ID" && EmptyParentheses(text, i), &scan, &seen);
    }
    word.clear();
    word_too_long = false;
  };
  while (i < n) {
    const char c = text[i];
    // Non-ASCII bytes belong to words, as to the server's identifiers: KILLé is no KILL.
    if (sql::IsWordByte(static_cast<unsigned char>(c))) {
      if (ended) scan.multiple = true;
      if (word.size() < 32) {
        word += Upper(static_cast<unsigned char>(c));
      } else {
        word_too_long = true;
      }
      ++i;
      continue;
    }
    flush_word();
    if (c == '\'' || c == '"' || c == '`') {  // A literal or quoted identifier: skipped.
      if (ended) scan.multiple = true;
      seen.statement_start = false;
      ++i;
      while (i < n) {
        if (text[i] == '\\' && c != '`') {
          i += 2;
          continue;
        }
        if (text[i] == c) {
          if (i + 1 < n && text[i + 1] == c) {  // A doubled quote.
            i += 2;
            continue;
          }
          break;
        }
        ++i;
      }
      ++i;
      continue;
    }
    if (c == '#' || (c == '-' && i + 1 < n && text[i + 1] == '-' &&
                     (i + 2 == n || IsSpace(static_cast<unsigned char>(text[i + 2]))))) {
      while (i < n && text[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      const bool executable =
          (i + 2 < n && text[i + 2] == '!') || (i + 3 < n && text.substr(i + 2, 2) == "M!");
      if (executable) {  // Code for the server: skip the marker and version, scan the rest.
        i += text[i + 2] == '!' ? std::size_t{3} : std::size_t{4};
        while (i < n && IsDigit(static_cast<unsigned char>(text[i]))) ++i;
        continue;
      }
      const auto close = text.find("*/", i + 2);
      i = close == std::string_view::npos ? n : close + 2;
      continue;
    }
    if (c == '*' && i + 1 < n && text[i + 1] == '/') {  // The end of an executable comment.
      i += 2;
      continue;
    }
    if (c == '@') {
      if (ended) scan.multiple = true;
      seen.statement_start = false;
      if (i + 1 < n && text[i + 1] == '@') {  // @@system_variable: read as words.
        i += 2;
      } else {
        // Assigned (SET @v, @v := x, INTO @v), it is state; only read, it is NULL or what an
        // assignment (which pinned the session already) left.
        if (seen.statement_keyword == "SET" || seen.into || AssignedAt(text, i + 1)) {
          seen.user_variable = true;
        }
        ++i;
      }
      continue;
    }
    if (c == ';') {
      ended = true;
      seen.statement_start = true;
      ++i;
      continue;
    }
    if (!IsSpace(static_cast<unsigned char>(c))) {
      if (ended) scan.multiple = true;
      seen.statement_start = false;
    }
    if (c == '(') seen.parenthesis = true;
    ++i;
  }
  flush_word();
  if (scan.first_keyword == "SET") scan.names_collation = SetNamesCollation(text);

  if (seen.user_variable && scan.keeps_state == PinReason::kNone) {
    scan.keeps_state = PinReason::kUserVariable;
  }
  if (scan.first_keyword == "SET" && seen.transaction && !seen.session &&
      scan.keeps_state == PinReason::kNone) {
    scan.keeps_state = PinReason::kSetTransaction;
  }
  scan.replayable_set = scan.first_keyword == "SET" && !scan.multiple &&
                        scan.keeps_state == PinReason::kNone && !seen.parenthesis && !seen.select &&
                        !seen.global;
  return scan;
}

}  // namespace longlink::proxy
