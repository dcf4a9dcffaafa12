// What the text of one statement tells the proxy before it runs (a COM_QUERY, or the text of
// a COM_STMT_PREPARE, scanned once for all its executes): its first keyword, whether it is
// several statements, whether it leaves session state a fresh connection would not have (and
// why: a PinReason) or reads what the previous statement left, whether it is a SET that can be
// replayed on a fresh connection, and the variables and functions the proxy follows.
// SessionState::OnQuery (session_state.h) and ClientSession act on it.
//
// The text is read because the server's session-state tracker misses user variables assigned
// by SELECT and locks. Words are read as the server's lexer reads identifiers, non-ASCII
// bytes included (sql::IsWordByte: `KILLé` is no KILL, `@café` is one variable), and compared
// upper-cased in ASCII; nothing depends on the locale. Safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "proxy/pin_reason.h"

namespace longlink::proxy {

// What a scan of one COM_QUERY text found.
struct StatementScan {
  std::string first_keyword = {};  // Uppercase, e.g. "SELECT"; empty if none.
  bool multiple = false;           // More than one statement (';' followed by more).
  // Why the statement leaves state a fresh connection would not have (kNone: it does not).
  PinReason keeps_state = PinReason::kNone;
  // It reads what the previous statement left (FOUND_ROWS(), ROW_COUNT(), SHOW WARNINGS,
  // @@warning_count, LASTVAL, ...): wrong on a fresh connection.
  bool reads_previous = false;
  // A SET of session variables that can be replayed verbatim on a fresh connection.
  bool replayable_set = false;
  // A statement of the text starts with KILL (the proxy translates or refuses those).
  bool kill = false;
  // Variables the proxy follows when a SET names them (as words outside quotes): the
  // client's own wait_timeout, profiling (the server keeps its history per connection),
  // session_track_state_change (the client's own tracker setting).
  bool names_wait_timeout = false;
  bool names_profiling = false;
  bool names_state_change_tracking = false;
  // SET NAMES ... COLLATE name: the collation (the server's tracker reports the character
  // sets only). Empty otherwise.
  std::string names_collation = {};
  // It names a session_track_* variable (the trackers the proxy relies on).
  bool names_session_tracking = false;
  // It can tell the client a server thread id: its own (CONNECTION_ID(), @@pseudo_thread_id)
  // or others' (the process list). KILL by thread id relies on what a client could know.
  bool names_connection_id = false;
  bool names_processlist = false;
};

// Scans a query's text: keywords and user variables outside quotes, identifiers and comments;
// MySQL's executable comments (/*! ... */, /*M! ... */) count as code. Any size: the caller
// decides what is too large to scan (SessionState::OnUnscannedQuery).
StatementScan ScanStatement(std::string_view text);

}  // namespace longlink::proxy
