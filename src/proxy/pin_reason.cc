#include "proxy/pin_reason.h"

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

}  // namespace longlink::proxy
