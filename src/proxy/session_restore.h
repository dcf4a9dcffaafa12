// Transaction pooling: what to send ahead of a client's first command on a connection just
// taken from the pool, so that the command runs in the client's session (its variables,
// schema and LAST_INSERT_ID()) and not in the one the connection's last client left. The
// commands go in the same write as the client's command (CommandRelay::Prepend): no extra
// round trip; nothing is sent when the connection already matches.
//
// Order: COM_RESET_CONNECTION + the fresh-session SET if the connection has a variable the
// client never set (its value is not the global's: only a reset brings that back) or was
// last reset before the client's session began (a SET GLOBAL since must be seen); one
// `SET SESSION a=..., b=...` with the variables that differ (and last_insert_id); COM_INIT_DB
// if the schema differs. A session without a schema on a connection that has one cannot be
// helped by a pipelined command (only COM_CHANGE_USER clears the schema): needs_schema_clear.
#pragma once

#include <cstdint>
#include <string>

#include "pool/backend_connection.h"
#include "protocol/wire.h"
#include "proxy/session_state.h"

namespace longlink::proxy {

struct RestorePlan {
  protocol::Bytes commands = {};  // Framed, each from sequence id 0.
  int replies = 0;                // OK/ERR replies to read (and drop) before the command's.
  bool reset = false;             // It starts with a reset.
  std::string assignments = {};   // The SET sent, if any (for the debug log).
  bool init_db = false;           // It changes the schema.
  // The connection has a schema and the session has none: COM_CHANGE_USER first, then plan
  // again.
  bool needs_schema_clear = false;
  bool empty() const { return replies == 0 && !needs_schema_clear; }
};

// What takes `connection` (its BackendState) to `session`'s state. A connection last reset
// before `session_started` has globals older than the session's: it is reset too.
RestorePlan PlanRestore(const pool::BackendConnection& connection, const SessionState& session,
                        pool::Clock::time_point session_started);

// The connection now has `session`'s state (after its plan ran, `reset` if it began with one):
// its BackendState says so.
void MarkRestored(pool::BackendState* connection, const SessionState& session, bool reset);

// A hash of the session's schema and variables, for Pools::Acquire's `prefer` and
// BackendState::fingerprint (never 0).
std::uint64_t StateFingerprint(const std::string& schema, const pool::SessionVariables& variables);

// The statement that asks the server for LAST_INSERT_ID() without changing it: its OK reports
// the value (SessionState::LearnLastInsertId). It clears the previous statement's warnings
// and row count: only sent ahead of a command that does not read them.
inline constexpr const char* kLastInsertIdQuery = "SET SESSION last_insert_id = LAST_INSERT_ID()";

}  // namespace longlink::proxy
