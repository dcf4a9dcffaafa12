// What the proxy knows about a client session's state on its backend connection, so that it
// can decide whether a fresh backend may take over when the held one dies while the client is
// idle (docs/OPERATIONS.md, "Idle clients").
//
// Clean means the session can be rebuilt exactly on a fresh connection from the pool: no open
// transaction, and nothing changed since login except the schema (re-applied with COM_INIT_DB)
// and session variables set by plain SET statements (replayed in order). Anything else makes
// the session dirty until the client resets it or changes user: user variables, temporary
// tables, PREPARE and COM_STMT_PREPARE, GET_LOCK and LOCK TABLES, HANDLER, CALL (a procedure
// may do any of these), XA, SET TRANSACTION (next transaction only), LAST_INSERT_ID() and an
// AUTO_INCREMENT insert (the id is session state), sequences, COM_SET_OPTION, and every state
// change the server reports for a statement that is not such a SET.
//
// Sources: the server's session-state tracker (session_track_state_change=ON on every pooled
// connection sets SERVER_SESSION_STATE_CHANGED in OK packets), the IN_TRANS status flags, and
// a scan of each query's text outside quotes and comments, because the tracker misses user
// variables assigned by SELECT and locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/constants.h"
#include "protocol/packets.h"

namespace longlink::proxy {

// What a scan of one COM_QUERY text found.
struct StatementScan {
  std::string first_keyword = {};  // Uppercase, e.g. "SELECT"; empty if none.
  bool multiple = false;           // More than one statement (';' followed by more).
  // Why the statement leaves state a fresh connection would not have (nullptr: it does not).
  const char* keeps_state = nullptr;
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
  // It can tell the client a server thread id: its own (CONNECTION_ID(), @@pseudo_thread_id)
  // or others' (the process list). KILL by thread id relies on what a client could know.
  bool names_connection_id = false;
  bool names_processlist = false;
};

// What a SET statement assigns to one session variable.
struct SessionAssignment {
  enum class Kind {
    kNone,     // The statement does not assign the variable at session scope.
    kNumber,   // A plain integer (number).
    kDefault,  // DEFAULT: the global value.
    kOther,    // An expression, ON/OFF, a string: ask the server.
  };
  Kind kind = Kind::kNone;
  std::int64_t number = 0;
  std::string_view value = {};  // The value's text, for kOther (trimmed).
  bool operator==(const SessionAssignment&) const = default;
};

// The last assignment of session variable `name` (lowercase, e.g. "wait_timeout") in the SET
// statement `text`: `SET [SESSION|LOCAL] name = v`, `@@name`, `@@session.name`,
// `@@local.name`, one of several assignments separated by commas. GLOBAL and PERSIST
// assignments are not session ones. kNone if `text` is not a SET statement.
SessionAssignment FindSessionAssignment(std::string_view text, std::string_view name);

// Scans a query's text: keywords and user variables outside quotes, identifiers and comments;
// MySQL's executable comments (/*! ... */, /*M! ... */) count as code.
StatementScan ScanStatement(std::string_view text);

class SessionState {
 public:
  // Beyond these, the replay list is not kept and the session counts as dirty.
  static constexpr std::size_t kMaxReplayStatements = 32;
  static constexpr std::size_t kMaxReplayBytes = 16 * 1024;

  // A COM_QUERY is about to run: `scan` of its `text`, or nullopt if it is too large to scan
  // (the session then counts as dirty).
  void OnQuery(std::string_view text, const StatementScan& scan);
  void OnUnscannedQuery();
  // Any other command is about to run.
  void OnCommand(protocol::Command command);
  // An OK packet of the current command, as the backend sent it.
  void OnOk(const protocol::OkPacket& ok);

  // True if the session may move to a fresh connection, given the last status flags.
  bool clean(std::uint16_t status_flags) const;
  // Why not, for logs ("user variable", "open transaction", ...).
  std::string_view dirty_reason(std::uint16_t status_flags) const;
  // The SET statements to replay on a fresh connection, oldest first.
  const std::vector<std::string>& replay() const { return replay_; }

  // The session was reset (COM_RESET_CONNECTION) or logged in again (COM_CHANGE_USER).
  void Reset();

 private:
  void MakeDirty(const char* why) {
    if (dirty_ == nullptr) dirty_ = why;
  }

  const char* dirty_ = nullptr;  // The first reason, or nullptr while clean.
  std::vector<std::string> replay_;
  std::size_t replay_bytes_ = 0;
  std::string pending_set_;  // The current command's SET text, if it is a replayable SET.
};

}  // namespace longlink::proxy
