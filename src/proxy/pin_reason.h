// Why a client session is tied to its backend connection (pinned) instead of moving between
// connections of its pool. Every pin has one of these names: the debug log says which one
// pinned a session, and the pool counters count pinned sessions by reason.
//
// Two kinds (PinLasts):
// - until a reset: state that lives on that very connection (user variables, temporary
//   tables, locks, prepared statements, ...); it ends only with COM_RESET_CONNECTION,
//   COM_CHANGE_USER or the end of the session;
// - until the next command: what the last statement left for the next one to read (its
//   warnings, FOUND_ROWS() after SQL_CALC_FOUND_ROWS, an unknown LAST_INSERT_ID()); the next
//   command either reads it on the same connection or makes it moot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace longlink::proxy {

enum class PinReason : std::uint8_t {
  kNone = 0,
  kUserVariable,
  kTemporaryTable,
  kGetLock,
  kLockTables,
  kSqlPrepare,         // SQL PREPARE / EXECUTE / DEALLOCATE.
  kPreparedStatement,  // COM_STMT_PREPARE.
  kCursor,             // An open cursor (SERVER_STATUS_CURSOR_EXISTS).
  kLongData,           // COM_STMT_SEND_LONG_DATA, until that statement's execute.
  kHandler,
  kCall,  // A procedure may do any of the others.
  kXa,
  kSequence,          // NEXTVAL / LASTVAL / SETVAL keep per-session values.
  kSetTransaction,    // SET TRANSACTION: the next transaction only.
  kSessionTracking,   // The client set a session_track_* variable (the proxy's trackers).
  kOneShotVariable,   // insert_id, rand_seed1/2, pseudo_thread_id, gtid_seq_no: the next
                      // statement's.
  kConnectionId,      // The client learnt its connection's thread id (CONNECTION_ID(), ...).
  kSetOption,         // COM_SET_OPTION (multi-statements on or off).
  kLargeQuery,        // A query too large to inspect.
  kStateChange,       // The server reported a state change the proxy cannot name or move.
  kTooManyVariables,  // More session variables than the proxy keeps to replay.
  kWarnings,          // Until the next command: the last statement's warnings.
  kFoundRows,         // Until the next command: SQL_CALC_FOUND_ROWS.
  kLastInsertId,      // Until the next command: LAST_INSERT_ID() not known to the proxy.
  kCount,
};

inline constexpr std::size_t kPinReasonCount = static_cast<std::size_t>(PinReason::kCount);

enum class PinLasts : std::uint8_t { kUntilReset, kUntilNextCommand };

inline constexpr PinLasts LastsOf(PinReason reason) {
  return reason == PinReason::kWarnings || reason == PinReason::kFoundRows ||
                 reason == PinReason::kLastInsertId
             ? PinLasts::kUntilNextCommand
             : PinLasts::kUntilReset;
}

// A short name for logs and metrics ("user_variable", "temporary_table", ...).
std::string_view PinReasonName(PinReason reason);
// What it means, for logs and errors ("user variable", "temporary table", ...).
std::string_view PinReasonText(PinReason reason);

}  // namespace longlink::proxy
