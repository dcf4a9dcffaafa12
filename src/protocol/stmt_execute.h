// The parts of a COM_STMT_EXECUTE payload a proxy that owns the statement ids must change: the
// statement id, and the parameter types, which a client sends only when it binds new ones
// (new-params-bound = 1) and which the server otherwise takes from the statement's last
// execute. A server statement shared by several client statements (docs/PROXY.md, "Prepared
// statements in transaction pooling") must get each client's own types every time.
//
// Layout (MariaDB sql_prepare.cc, PROTOCOL.md): 0x17, int<4> statement id, int<1> flags,
// int<4> iteration count, then only if the statement has parameters: the NULL bitmap
// ((n + 7) / 8 bytes), int<1> new-params-bound, n x int<2> types if it is 1, the values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "protocol/wire.h"

namespace longlink::protocol {

// Where an execute's parameter parts are, for a statement of `parameters` parameters.
struct ExecuteLayout {
  std::size_t bound_flag = 0;  // Offset of new-params-bound (0: no parameters, none).
  bool types_bound = false;    // new-params-bound is not 0: the types follow it.
  std::size_t values = 0;      // Offset of the first value (the payload's size if none).
};

// Offsets of the fixed part: the statement id, the flags.
inline constexpr std::size_t kExecuteStatementId = 1;
inline constexpr std::size_t kExecuteFlags = 5;
inline constexpr std::size_t kExecuteFixedSize = 10;

// The layout of `payload` (command byte first); an error if it is too short for its fixed
// part, bitmap, flag and (if bound) types.
Result<ExecuteLayout> ParseExecuteLayout(ByteView payload, std::uint16_t parameters);

// The types `payload` binds (2 bytes per parameter, as sent), if it binds any.
std::optional<ByteView> ExecuteTypes(ByteView payload, const ExecuteLayout& layout,
                                     std::uint16_t parameters);

// Writes `statement` over the statement id of a STMT_EXECUTE, SEND_LONG_DATA, RESET, FETCH or
// CLOSE payload. REQUIRES: payload.size() >= 5.
void SetStatementId(std::span<std::uint8_t> payload, std::uint32_t statement);

// `payload` (layout `layout`, not binding types) with new-params-bound set and `types` (2
// bytes per parameter) inserted after it, statement id `statement`. REQUIRES: the statement
// has parameters and `types` is their size.
Bytes WithTypes(ByteView payload, const ExecuteLayout& layout, ByteView types,
                std::uint32_t statement);

// What names a result column in a column definition packet: its catalog, schema, table,
// original table, name and original name (the first six lenenc strings), joined; nullopt if
// the packet is too short. A statement's columns after DDL differ from its PREPARE reply's in
// these (or in number); types and lengths may differ anyway (a parameter's value decides).
std::optional<std::string> ColumnIdentity(ByteView definition);

}  // namespace longlink::protocol
