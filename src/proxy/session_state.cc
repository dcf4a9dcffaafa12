#include "proxy/session_state.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "protocol/session_track.h"
#include "proxy/sql_words.h"

namespace longlink::proxy {

std::string_view PinReasonName(PinReason reason) {
  static constexpr std::array<std::string_view, kPinReasonCount> kNames = {"none",
                                                                           "user_variable",
                                                                           "temporary_table",
                                                                           "get_lock",
                                                                           "lock_tables",
                                                                           "sql_prepare",
                                                                           "prepared_statement",
                                                                           "cursor",
                                                                           "long_data",
                                                                           "handler",
                                                                           "call",
                                                                           "xa",
                                                                           "sequence",
                                                                           "set_transaction",
                                                                           "session_tracking",
                                                                           "one_shot_variable",
                                                                           "connection_id",
                                                                           "set_option",
                                                                           "large_query",
                                                                           "state_change",
                                                                           "too_many_variables",
                                                                           "warnings",
                                                                           "found_rows",
                                                                           "last_insert_id"};
  return kNames[static_cast<std::size_t>(reason) % kPinReasonCount];
}

std::string_view PinReasonText(PinReason reason) {
  static constexpr std::array<std::string_view, kPinReasonCount> kTexts = {
      "none",
      "user variable",
      "temporary table",
      "GET_LOCK",
      "LOCK TABLES or a lock clause",
      "PREPARE",
      "prepared statement",
      "open cursor",
      "long data sent for the statement's next execute",
      "HANDLER",
      "CALL (a procedure may keep state)",
      "XA transaction",
      "sequence",
      "SET TRANSACTION (for the next transaction)",
      "session_track_* set by the client",
      "a variable for the next statement only (insert_id, rand_seed, ...)",
      "the client learnt its connection id",
      "COM_SET_OPTION",
      "a query too large to inspect",
      "session state changed (reported by the server)",
      "too many session variables to replay",
      "the last statement's warnings (until the next command)",
      "SQL_CALC_FOUND_ROWS (until the next command)",
      "LAST_INSERT_ID() (until the next command)"};
  return kTexts[static_cast<std::size_t>(reason) % kPinReasonCount];
}

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
bool AssignedAt(std::string_view text, std::size_t pos) {
  if (pos < text.size() && (text[pos] == '\'' || text[pos] == '"' || text[pos] == '`')) {
    const std::size_t close = text.find(text[pos], pos + 1);
    pos = close == std::string_view::npos ? text.size() : close + 1;
  } else {
    while (pos < text.size() &&
           (IsAsciiWordByte(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) {
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
    if (IsAsciiWordByte(static_cast<unsigned char>(c))) {
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

void SessionState::OnQuery(std::string_view text, const StatementScan& scan) {
  pending_set_.clear();
  found_rows_ = false;
  if (transaction_pooling_) {
    switch (scan.keeps_state) {
      case PinReason::kNone:
        break;
      case PinReason::kFoundRows:
        found_rows_ = true;
        break;
      case PinReason::kLastInsertId:
        // LAST_INSERT_ID(expr) sets it: the value is the server's to tell.
        last_insert_id_known_ = false;
        break;
      default:
        Pin(scan.keeps_state);
    }
    if (scan.names_session_tracking) Pin(PinReason::kSessionTracking);
    if (scan.names_connection_id) Pin(PinReason::kConnectionId);
    pending_collation_ = scan.names_collation;
    return;
  }
  if (scan.keeps_state != PinReason::kNone && scan.keeps_state != PinReason::kFoundRows) {
    Pin(scan.keeps_state);
  }
  if (scan.replayable_set && pin_ == PinReason::kNone) pending_set_ = text;
}

void SessionState::OnUnscannedQuery() {
  pending_set_.clear();
  found_rows_ = false;
  Pin(PinReason::kLargeQuery);
}

void SessionState::OnCommand(protocol::Command command) {
  pending_set_.clear();
  switch (command) {
    case protocol::Command::kStmtPrepare:
      // The server's statement ids (session pooling, or a backend without MariaDB's "last
      // prepared" id); the proxy's own move with the session (session_statements.cc).
      Pin(PinReason::kPreparedStatement);
      break;
    case protocol::Command::kSetOption:
      Pin(PinReason::kSetOption);
      break;
    default:
      break;
  }
}

void SessionState::OnOk(const protocol::OkPacket& ok, const SessionChanges& changes) {
  if (transaction_pooling_) {
    OnTransactionPoolingOk(ok, changes);
    return;
  }
  if (ok.last_insert_id != 0) Pin(PinReason::kLastInsertId);
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
      Pin(PinReason::kTooManyVariables);
    }
    return;
  }
  // Another statement changed the state: only a schema change is known and replayable.
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
  if (other || !schema) Pin(PinReason::kStateChange);
}

void SessionState::OnTransactionPoolingOk(const protocol::OkPacket& ok,
                                          const SessionChanges& changes) {
  if (ok.last_insert_id != 0) last_insert_id_known_ = false;
  if (!(ok.status_flags & protocol::status::kSessionStateChanged) || ok.session_state.empty()) {
    return;
  }
  if (!changes.ok()) {
    Pin(PinReason::kStateChange);
    return;
  }
  bool state_change = false;
  bool explained = false;  // A variable or the schema changed: what the state change was.
  for (const auto& change : *changes) {
    if (const auto* variable = std::get_if<protocol::SystemVariableChange>(&change)) {
      explained = true;
      OnVariable(variable->name, variable->value);
    } else if (const auto* schema = std::get_if<protocol::SchemaChange>(&change)) {
      explained = true;
      schema_ = schema->schema;
    } else if (std::holds_alternative<protocol::StateChange>(change)) {
      state_change = true;
    } else if (const auto* transaction = std::get_if<protocol::TransactionStateChange>(&change)) {
      if (transaction->state.size() == 8 && transaction->state[7] == 'L') {
        Pin(PinReason::kLockTables);
      }
    }
  }
  if (state_change && !explained) Pin(PinReason::kStateChange);
  if (!pending_collation_.empty() && variables_.Find("character_set_connection") != nullptr) {
    // SET NAMES ... COLLATE: the tracker tells the character sets, not the collation.
    variables_.Set("collation_connection", pending_collation_);
    pending_collation_.clear();
  }
}

void SessionState::OnVariable(std::string_view name, std::string_view value) {
  if (name == "last_insert_id" || name == "identity") {
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    last_insert_id_known_ = error == std::errc() && end == value.data() + value.size();
    last_insert_id_ = number;
    return;
  }
  if (pool::IsOneShotVariable(name)) {
    Pin(PinReason::kOneShotVariable);
    return;
  }
  if (name.starts_with("session_track_")) {
    Pin(PinReason::kSessionTracking);
    const bool on = value == "ON" || value == "1";
    if (name == "session_track_state_change") tracking_.state_change = on;
    if (name == "session_track_schema") tracking_.schema = on;
    if (name == "session_track_transaction_info") {
      tracking_.transaction_info = pool::ParseTransactionInfo(value);
    }
    if (name == "session_track_system_variables") tracking_.system_variables = value;
    return;
  }
  variables_.Set(name, value);
  if (variables_.list().size() > kMaxVariables || variables_.bytes() > kMaxReplayBytes) {
    Pin(PinReason::kTooManyVariables);
  }
}

void SessionState::LearnLastInsertId(const protocol::OkPacket& ok) {
  auto changes = protocol::DecodeSessionState(protocol::AsBytes(ok.session_state));
  if (!changes.ok()) return;
  for (const auto& change : *changes) {
    const auto* variable = std::get_if<protocol::SystemVariableChange>(&change);
    if (variable != nullptr && variable->name == "last_insert_id") {
      OnVariable(variable->name, variable->value);
    }
  }
}

void SessionState::OnReplyEnd(protocol::Command command, std::uint16_t warnings, bool error) {
  const bool statement = command == protocol::Command::kQuery ||
                         command == protocol::Command::kStmtExecute ||
                         command == protocol::Command::kStmtPrepare;
  PinReason hold = PinReason::kNone;
  if (warnings > 0 || (error && statement)) {
    hold = PinReason::kWarnings;  // SHOW WARNINGS, @@warning_count, GET DIAGNOSTICS read them.
  } else if (!statement && hold_ == PinReason::kWarnings) {
    hold = hold_;  // Only a statement clears the diagnostics area.
  } else if (found_rows_ && !error) {
    hold = PinReason::kFoundRows;
  } else if (!statement && hold_ == PinReason::kFoundRows) {
    hold = hold_;
  }
  if (hold == PinReason::kNone && !last_insert_id_known_) hold = PinReason::kLastInsertId;
  hold_ = hold;
}

void SessionState::OnProxyError() {
  if (hold_ == PinReason::kWarnings) {
    hold_ = last_insert_id_known_ ? PinReason::kNone : PinReason::kLastInsertId;
  }
}

bool SessionState::clean(std::uint16_t status_flags) const {
  // A client that learnt its connection id gets another one after a loss, as in session
  // pooling; nothing else of its session is lost.
  return (pin_ == PinReason::kNone || pin_ == PinReason::kConnectionId) &&
         !(status_flags & (protocol::status::kInTrans | protocol::status::kInTransReadonly));
}

bool SessionState::movable(std::uint16_t status_flags) const {
  return pin_ == PinReason::kNone && clean(status_flags) && hold_ == PinReason::kNone &&
         !(status_flags & protocol::status::kCursorExists);
}

PinReason SessionState::pin_reason() const { return pin_ != PinReason::kNone ? pin_ : hold_; }

std::string_view SessionState::dirty_reason(std::uint16_t status_flags) const {
  if (pin_ != PinReason::kNone) return PinReasonText(pin_);
  if (status_flags & (protocol::status::kInTrans | protocol::status::kInTransReadonly)) {
    return "open transaction";
  }
  return "clean";
}

void SessionState::Reset() {
  pin_ = PinReason::kNone;
  hold_ = PinReason::kNone;
  found_rows_ = false;
  replay_.clear();
  replay_bytes_ = 0;
  pending_set_.clear();
  variables_.Clear();
  last_insert_id_ = 0;
  last_insert_id_known_ = true;
}

namespace {

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
