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
// a scan of each query's text outside quotes and comments (ScanStatement, statement_scan.h),
// because the tracker misses user variables assigned by SELECT and locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pool/session_variables.h"
#include "pool/tracker_settings.h"
#include "protocol/constants.h"
#include "protocol/packets.h"
#include "protocol/session_track.h"
#include "proxy/pin_reason.h"
#include "proxy/statement_scan.h"

namespace longlink::proxy {

class SessionState {
 public:
  // Beyond these, the replay list is not kept and the session counts as dirty.
  static constexpr std::size_t kMaxReplayStatements = 32;
  static constexpr std::size_t kMaxReplayBytes = 16 * 1024;
  // Transaction pooling: session variables kept to move a session at most.
  static constexpr std::size_t kMaxVariables = 128;

  // Transaction pooling (the backend connection tracks every variable, the schema and the
  // transaction state): the session's variables, schema and LAST_INSERT_ID() are followed
  // from the server's trackers, so that the session can move between connections
  // (variables(), schema(), last_insert_id()), and what cannot move pins it (pin_reason()).
  explicit SessionState(bool transaction_pooling = false)
      : transaction_pooling_(transaction_pooling) {}
  // At login and COM_CHANGE_USER (the user's pools decide); before Reset.
  void set_transaction_pooling(bool on) { transaction_pooling_ = on; }

  // A COM_QUERY is about to run: `scan` of its `text`, or nullopt if it is too large to scan
  // (the session then counts as dirty).
  void OnQuery(std::string_view text, const StatementScan& scan);
  void OnUnscannedQuery();
  // Any other command is about to run.
  void OnCommand(protocol::Command command);
  // An OK packet of the current command, as the backend sent it, with its session state
  // decoded (DecodeSessionState of ok.session_state; the relay decodes it once for all).
  using SessionChanges = Result<std::vector<protocol::SessionChange>>;
  void OnOk(const protocol::OkPacket& ok, const SessionChanges& changes);
  // The reply to `command` ended: with `warnings` (the last OK/EOF's count), or with an ERR.
  // Decides what the next command may need of this connection (transaction pooling).
  void OnReplyEnd(protocol::Command command, std::uint16_t warnings, bool error);
  // The proxy answered a command with an error of its own (an unknown statement id, ...): the
  // warnings the connection holds are no longer what the client's SHOW WARNINGS would read
  // (directly it would read that error), so they hold the connection no longer.
  void OnProxyError();
  // The OK of the proxy's own `SET SESSION last_insert_id = LAST_INSERT_ID()`: the value.
  void LearnLastInsertId(const protocol::OkPacket& ok);

  // True if the session may move to a fresh connection, given the last status flags (after
  // its connection died while it was idle: a pin for its connection id does not prevent it).
  bool clean(std::uint16_t status_flags) const;
  // Transaction pooling: true if the connection may go back to the pool now: clean, and
  // nothing the next command could read is left on it (pin_reason() is kNone).
  bool movable(std::uint16_t status_flags) const;
  // What ties the session to its connection (a pin until reset, else a hold until the next
  // command; kNone if neither). An open transaction is neither.
  PinReason pin_reason() const;
  // Why not, for logs ("user variable", "open transaction", ...).
  std::string_view dirty_reason(std::uint16_t status_flags) const;
  // The SET statements to replay on a fresh connection, oldest first (session pooling).
  const std::vector<std::string>& replay() const { return replay_; }

  // Transaction pooling: the session's own variables, default schema and LAST_INSERT_ID().
  const pool::SessionVariables& variables() const { return variables_; }
  const std::string& schema() const { return schema_; }
  void set_schema(std::string schema) { schema_ = std::move(schema); }
  std::uint64_t last_insert_id() const { return last_insert_id_; }
  // False after a statement that may have changed LAST_INSERT_ID() to a value the proxy has
  // not seen (an insert with an id; LAST_INSERT_ID(expr)).
  bool last_insert_id_known() const { return last_insert_id_known_; }
  // The session's tracker settings (what the client would get from the server): the
  // server's globals at login, then what the client set, as far as the tracker reports it.
  const pool::TrackerSettings& tracking() const { return tracking_; }
  void set_tracking(const pool::TrackerSettings& tracking) { tracking_ = tracking; }

  // The session was reset (COM_RESET_CONNECTION) or logged in again (COM_CHANGE_USER). The
  // schema is the caller's to set.
  void Reset();

 private:
  void Pin(PinReason reason) {
    if (pin_ == PinReason::kNone) pin_ = reason;
  }
  void OnTransactionPoolingOk(const protocol::OkPacket& ok, const SessionChanges& changes);
  void OnVariable(std::string_view name, std::string_view value);

  bool transaction_pooling_;
  PinReason pin_ = PinReason::kNone;   // The first reason, until a reset.
  PinReason hold_ = PinReason::kNone;  // Until the next command.
  bool found_rows_ = false;            // The current statement has SQL_CALC_FOUND_ROWS.
  std::string pending_collation_;      // The current statement's SET NAMES ... COLLATE.
  std::vector<std::string> replay_;
  std::size_t replay_bytes_ = 0;
  std::string pending_set_;  // The current command's SET text, if it is a replayable SET.
  pool::SessionVariables variables_;
  std::string schema_;
  std::uint64_t last_insert_id_ = 0;
  bool last_insert_id_known_ = true;
  pool::TrackerSettings tracking_;
};

}  // namespace longlink::proxy
