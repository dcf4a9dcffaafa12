// Session-state change entries, carried in an OK packet's session state when the client
// negotiated SESSION_TRACK and the status has SESSION_STATE_CHANGED (OkPacket::session_state).
//
// The session state is a run of entries, each int<1> type + lenenc data. The data is itself
// lenenc-encoded according to the type:
//   SYSTEM_VARIABLES (0):            lenenc name, lenenc value (one variable per entry)
//   SCHEMA (1):                      lenenc schema
//   STATE_CHANGE (2):                lenenc "1"
//   TRANSACTION_CHARACTERISTICS (4): lenenc SQL (e.g. "SET TRANSACTION READ ONLY;")
//   TRANSACTION_STATE (5):           lenenc 8 characters, e.g. "T_______"
// Other types (GTIDS (3), future ones) are kept as raw data so that nothing is lost on re-encode.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "protocol/constants.h"
#include "protocol/wire.h"

namespace longlink::protocol {

struct SystemVariableChange {
  std::string name = {};
  std::string value = {};
  friend bool operator==(const SystemVariableChange&, const SystemVariableChange&) = default;
};

struct SchemaChange {
  std::string schema = {};
  friend bool operator==(const SchemaChange&, const SchemaChange&) = default;
};

// Session state a pooler must not lose changed: user variables, temporary tables, prepared
// statements, ... The server sends "1".
struct StateChange {
  std::string value = "1";
  friend bool operator==(const StateChange&, const StateChange&) = default;
};

struct TransactionCharacteristicsChange {
  std::string characteristics = {};  // SQL; empty when the characteristics were reset.
  friend bool operator==(const TransactionCharacteristicsChange&,
                         const TransactionCharacteristicsChange&) = default;
};

// The transaction state as 8 characters, each a flag or '_':
//   [0] T explicit transaction / I implicit, [1] r non-transactional tables read,
//   [2] R transactional tables read, [3] w non-transactional write, [4] W transactional write,
//   [5] s unsafe statement, [6] S result set sent, [7] L LOCK TABLES.
struct TransactionStateChange {
  std::string state = {};
  // True if a transaction is open (first character T or I).
  bool InTransaction() const { return !state.empty() && (state[0] == 'T' || state[0] == 'I'); }
  friend bool operator==(const TransactionStateChange&, const TransactionStateChange&) = default;
};

// An entry of a type this code does not interpret (including GTIDS): the raw entry data.
struct UnknownSessionChange {
  std::uint8_t type = 0;
  std::string data = {};  // The entry's data without its lenenc length.
  friend bool operator==(const UnknownSessionChange&, const UnknownSessionChange&) = default;
};

using SessionChange =
    std::variant<SystemVariableChange, SchemaChange, StateChange, TransactionCharacteristicsChange,
                 TransactionStateChange, UnknownSessionChange>;

// Parses OkPacket::session_state. Fails (never returns a partial list) if an entry is cut
// short or a known type's data is not exactly the expected lenenc strings.
Result<std::vector<SessionChange>> DecodeSessionState(ByteView session_state);
// The inverse; the result is the content for OkPacket::session_state.
std::string EncodeSessionState(const std::vector<SessionChange>& changes);

}  // namespace longlink::protocol
