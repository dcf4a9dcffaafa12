// Client commands, parsed where a proxy needs their fields: the command byte, COM_INIT_DB's
// schema, COM_SET_OPTION's argument, the statement id of COM_STMT_*, and the small commands a
// proxy sends itself. COM_CHANGE_USER is in handshake.h (ChangeUser).
//
// Every payload includes the command byte. Decode<T>(payload) checks it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "protocol/constants.h"
#include "protocol/wire.h"

namespace longlink::protocol {

// The command of a client packet; an error for an empty payload.
Result<Command> CommandOf(ByteView payload);

// The payload of a command that carries nothing but its byte (COM_QUIT, COM_PING,
// COM_STATISTICS, COM_RESET_CONNECTION, COM_DEBUG, ...).
Bytes EncodeCommand(Command command);

// COM_QUERY: 0x03, query (rest).
struct Query {
  std::string query = {};
  friend bool operator==(const Query&, const Query&) = default;
};

// COM_INIT_DB: 0x02, schema (rest).
struct InitDb {
  std::string schema = {};
  friend bool operator==(const InitDb&, const InitDb&) = default;
};

// COM_FIELD_LIST: 0x04, string<NUL> table, wildcard (rest).
struct FieldList {
  std::string table = {};
  std::string wildcard = {};
  friend bool operator==(const FieldList&, const FieldList&) = default;
};

// COM_SET_OPTION: 0x1b, int<2> option.
struct SetOption {
  static constexpr std::uint16_t kMultiStatementsOn = 0;
  static constexpr std::uint16_t kMultiStatementsOff = 1;
  std::uint16_t option = kMultiStatementsOn;
  friend bool operator==(const SetOption&, const SetOption&) = default;
};

// COM_STMT_PREPARE: 0x16, query (rest).
struct StmtPrepare {
  std::string query = {};
  friend bool operator==(const StmtPrepare&, const StmtPrepare&) = default;
};

// MariaDB accepts this statement id in COM_STMT_EXECUTE/SEND_LONG_DATA/... to mean "the
// statement prepared last on this connection"; a connection that sees it must stay pinned.
inline constexpr std::uint32_t kLastPreparedStatementId = 0xffffffff;

// COM_STMT_EXECUTE: 0x17, int<4> statement id, int<1> flags, int<4> iteration count (1), then
// the null bitmap, new-params-bound flag, types and values, whose layout needs the parameter
// count from the PREPARE reply, so they are kept raw.
struct StmtExecute {
  // Flags: the cursor type.
  static constexpr std::uint8_t kCursorTypeNoCursor = 0;
  static constexpr std::uint8_t kCursorTypeReadOnly = 1;
  static constexpr std::uint8_t kCursorTypeForUpdate = 2;
  static constexpr std::uint8_t kCursorTypeScrollable = 4;
  std::uint32_t statement_id = 0;
  std::uint8_t flags = kCursorTypeNoCursor;
  std::uint32_t iteration_count = 1;
  std::string parameters = {};  // The rest of the packet, raw.
  friend bool operator==(const StmtExecute&, const StmtExecute&) = default;
};

// COM_STMT_SEND_LONG_DATA: 0x18, int<4> statement id, int<2> parameter, data (rest).
struct StmtSendLongData {
  std::uint32_t statement_id = 0;
  std::uint16_t parameter_id = 0;
  std::string data = {};
  friend bool operator==(const StmtSendLongData&, const StmtSendLongData&) = default;
};

// COM_STMT_CLOSE: 0x19, int<4> statement id.
struct StmtClose {
  std::uint32_t statement_id = 0;
  friend bool operator==(const StmtClose&, const StmtClose&) = default;
};

// COM_STMT_RESET: 0x1a, int<4> statement id.
struct StmtReset {
  std::uint32_t statement_id = 0;
  friend bool operator==(const StmtReset&, const StmtReset&) = default;
};

// COM_STMT_FETCH: 0x1c, int<4> statement id, int<4> number of rows.
struct StmtFetch {
  std::uint32_t statement_id = 0;
  std::uint32_t row_count = 0;
  friend bool operator==(const StmtFetch&, const StmtFetch&) = default;
};

// The statement id of COM_STMT_EXECUTE, SEND_LONG_DATA, CLOSE, RESET, FETCH and
// BULK_EXECUTE (bytes 1..4); nullopt for other commands or a payload too short to hold one.
std::optional<std::uint32_t> StatementIdOf(ByteView payload);

template <>
Result<Query> Decode<Query>(ByteView payload);
template <>
Result<InitDb> Decode<InitDb>(ByteView payload);
template <>
Result<FieldList> Decode<FieldList>(ByteView payload);
template <>
Result<SetOption> Decode<SetOption>(ByteView payload);
template <>
Result<StmtPrepare> Decode<StmtPrepare>(ByteView payload);
template <>
Result<StmtExecute> Decode<StmtExecute>(ByteView payload);
template <>
Result<StmtSendLongData> Decode<StmtSendLongData>(ByteView payload);
template <>
Result<StmtClose> Decode<StmtClose>(ByteView payload);
template <>
Result<StmtReset> Decode<StmtReset>(ByteView payload);
template <>
Result<StmtFetch> Decode<StmtFetch>(ByteView payload);

Bytes Encode(const Query& message);
Bytes Encode(const InitDb& message);
Bytes Encode(const FieldList& message);
Bytes Encode(const SetOption& message);
Bytes Encode(const StmtPrepare& message);
Bytes Encode(const StmtExecute& message);
Bytes Encode(const StmtSendLongData& message);
Bytes Encode(const StmtClose& message);
Bytes Encode(const StmtReset& message);
Bytes Encode(const StmtFetch& message);

}  // namespace longlink::protocol
