#include "proxy/session_state.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "protocol/session_track.h"

namespace longlink::proxy {

namespace {

struct KeywordRule {
  std::string_view word;
  const char* keeps_state;  // nullptr: the word only reads the previous statement's results.
};

// Words (outside quotes) that make a statement leave session state, or read what the previous
// statement left.
constexpr std::array kKeywordRules = {
    KeywordRule{"GET_LOCK", "GET_LOCK"},
    KeywordRule{"LOCK", "LOCK TABLES or a lock clause"},
    KeywordRule{"HANDLER", "HANDLER"},
    KeywordRule{"CALL", "CALL (a procedure may keep state)"},
    KeywordRule{"PREPARE", "PREPARE"},
    KeywordRule{"EXECUTE", "EXECUTE"},
    KeywordRule{"DEALLOCATE", "DEALLOCATE PREPARE"},
    KeywordRule{"XA", "XA transaction"},
    KeywordRule{"TEMPORARY", "temporary table"},
    KeywordRule{"LAST_INSERT_ID", "LAST_INSERT_ID"},
    KeywordRule{"NEXTVAL", "sequence"},
    KeywordRule{"SETVAL", "sequence"},
    KeywordRule{"NEXT", "sequence (NEXT VALUE FOR)"},
    KeywordRule{"FOUND_ROWS", nullptr},
    KeywordRule{"ROW_COUNT", nullptr},
    KeywordRule{"WARNINGS", nullptr},
    KeywordRule{"ERRORS", nullptr},
    KeywordRule{"WARNING_COUNT", nullptr},
    KeywordRule{"ERROR_COUNT", nullptr},
    KeywordRule{"IDENTITY", nullptr},
    KeywordRule{"INSERT_ID", nullptr},
    KeywordRule{"LASTVAL", nullptr},
    KeywordRule{"PREVIOUS", nullptr},
};

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
}

// What the scanner saw besides keywords, for the replayable-SET rule.
struct Seen {
  bool user_variable = false;
  bool parenthesis = false;
  bool select = false;
  bool global = false;
  bool session = false;
  bool transaction = false;
  bool statement_start = true;  // Nothing but blanks and comments since the start or a ';'.
};

void OnWord(std::string_view word, StatementScan* scan, Seen* seen) {
  if (scan->first_keyword.empty()) scan->first_keyword = word;
  if (seen->statement_start && word == "KILL") scan->kill = true;
  seen->statement_start = false;
  for (const auto& rule : kKeywordRules) {
    if (word != rule.word) continue;
    if (rule.keeps_state != nullptr) {
      if (scan->keeps_state == nullptr) scan->keeps_state = rule.keeps_state;
    } else {
      scan->reads_previous = true;
    }
  }
  if (word == "SELECT") seen->select = true;
  if (word == "GLOBAL" || word == "PERSIST") seen->global = true;
  if (word == "SESSION" || word == "LOCAL") seen->session = true;
  if (word == "TRANSACTION") seen->transaction = true;
  if (word == "WAIT_TIMEOUT") scan->names_wait_timeout = true;
  if (word == "PROFILING" || word == "PROFILING_HISTORY_SIZE") scan->names_profiling = true;
  if (word == "SESSION_TRACK_STATE_CHANGE") scan->names_state_change_tracking = true;
  if (word == "CONNECTION_ID" || word == "PSEUDO_THREAD_ID") scan->names_connection_id = true;
  if (word == "PROCESSLIST") scan->names_processlist = true;
}

}  // namespace

StatementScan ScanStatement(std::string_view text) {
  StatementScan scan;
  Seen seen;
  std::string word;
  bool word_too_long = false;
  bool ended = false;  // A ';' was seen; anything but space or comments after it is a 2nd one.
  const std::size_t n = text.size();
  auto flush_word = [&] {
    if (!word.empty() && !word_too_long) OnWord(word, &scan, &seen);
    word.clear();
    word_too_long = false;
  };
  std::size_t i = 0;
  while (i < n) {
    const char c = text[i];
    if (IsWordChar(c)) {
      if (ended) scan.multiple = true;
      if (word.size() < 32) {
        word += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
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
                     (i + 2 == n || std::isspace(static_cast<unsigned char>(text[i + 2])) != 0))) {
      while (i < n && text[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      const bool executable =
          (i + 2 < n && text[i + 2] == '!') || (i + 3 < n && text.substr(i + 2, 2) == "M!");
      if (executable) {  // Code for the server: skip the marker and version, scan the rest.
        i += text[i + 2] == '!' ? std::size_t{3} : std::size_t{4};
        while (i < n && std::isdigit(static_cast<unsigned char>(text[i])) != 0) ++i;
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
        seen.user_variable = true;
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
    if (std::isspace(static_cast<unsigned char>(c)) == 0) {
      if (ended) scan.multiple = true;
      seen.statement_start = false;
    }
    if (c == '(') seen.parenthesis = true;
    ++i;
  }
  flush_word();

  if (seen.user_variable && scan.keeps_state == nullptr) scan.keeps_state = "user variable";
  if (scan.first_keyword == "SET" && seen.transaction && !seen.session &&
      scan.keeps_state == nullptr) {
    scan.keeps_state = "SET TRANSACTION (for the next transaction)";
  }
  scan.replayable_set = scan.first_keyword == "SET" && !scan.multiple &&
                        scan.keeps_state == nullptr && !seen.parenthesis && !seen.select &&
                        !seen.global;
  return scan;
}

void SessionState::OnQuery(std::string_view text, const StatementScan& scan) {
  pending_set_.clear();
  if (scan.keeps_state != nullptr) MakeDirty(scan.keeps_state);
  if (scan.replayable_set && dirty_ == nullptr) pending_set_ = text;
}

void SessionState::OnUnscannedQuery() {
  pending_set_.clear();
  MakeDirty("a query too large to inspect");
}

void SessionState::OnCommand(protocol::Command command) {
  pending_set_.clear();
  switch (command) {
    case protocol::Command::kStmtPrepare:
      MakeDirty("prepared statement");
      break;
    case protocol::Command::kSetOption:
      MakeDirty("COM_SET_OPTION");
      break;
    default:
      break;
  }
}

void SessionState::OnOk(const protocol::OkPacket& ok) {
  if (ok.last_insert_id != 0) MakeDirty("AUTO_INCREMENT insert (LAST_INSERT_ID)");
  if (!(ok.status_flags & protocol::status::kSessionStateChanged)) return;
  if (!pending_set_.empty()) {
    // Keep the last of identical statements only: it decides everything it sets.
    auto old = std::find(replay_.begin(), replay_.end(), pending_set_);
    if (old != replay_.end()) {
      replay_bytes_ -= old->size();
      replay_.erase(old);
    }
    replay_bytes_ += pending_set_.size();
    replay_.push_back(std::move(pending_set_));
    pending_set_.clear();
    if (replay_.size() > kMaxReplayStatements || replay_bytes_ > kMaxReplayBytes) {
      MakeDirty("too many SET statements to replay");
    }
    return;
  }
  // Another statement changed the state: only a schema change is known and replayable.
  auto changes = protocol::DecodeSessionState(protocol::AsBytes(ok.session_state));
  bool schema = false;
  bool other = !changes.ok();
  if (changes.ok()) {
    for (const auto& change : *changes) {
      if (std::holds_alternative<protocol::SchemaChange>(change)) {
        schema = true;
      } else if (!std::holds_alternative<protocol::StateChange>(change)) {
        other = true;
      }
    }
  }
  if (other || !schema) MakeDirty("session state changed (reported by the server)");
}

bool SessionState::clean(std::uint16_t status_flags) const {
  return dirty_ == nullptr &&
         !(status_flags & (protocol::status::kInTrans | protocol::status::kInTransReadonly));
}

std::string_view SessionState::dirty_reason(std::uint16_t status_flags) const {
  if (dirty_ != nullptr) return dirty_;
  if (status_flags & (protocol::status::kInTrans | protocol::status::kInTransReadonly)) {
    return "open transaction";
  }
  return "clean";
}

void SessionState::Reset() {
  dirty_ = nullptr;
  replay_.clear();
  replay_bytes_ = 0;
  pending_set_.clear();
}

namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (std::isspace(static_cast<unsigned char>(text.front())) != 0)) {
    text.remove_prefix(1);
  }
  while (!text.empty() &&
         (std::isspace(static_cast<unsigned char>(text.back())) != 0 || text.back() == ';')) {
    text.remove_suffix(1);
  }
  return text;
}

bool StartsWithWord(std::string_view text, std::string_view word) {
  if (text.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != word[i]) return false;
  }
  return text.size() == word.size() || !IsWordChar(text[word.size()]);
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
               std::all_of(
                   value.begin(), value.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }) &&
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
