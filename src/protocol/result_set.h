// The parts of a text result set a server (or the proxy's admin console) writes: column
// definitions (Protocol::ColumnDefinition41) and text rows.
//
// ColumnDefinition41: lenenc catalog ("def"), schema, table, org_table, name, org_name, then
// lenenc 0x0c, int<2> character set, int<4> column length, int<1> type, int<2> flags, int<1>
// decimals, int<2> filler (0). With MariaDB's EXTENDED_METADATA an extra lenenc block of
// type/format names sits after org_name: this codec writes it empty when the client asked for
// the capability (an empty block is how the server says "no extended type") and reads past it.
//
// A text row: one lenenc string per column, 0xFB for NULL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "protocol/constants.h"
#include "protocol/wire.h"

namespace longlink::protocol {

// MySQL column types the proxy writes (enum_field_types).
namespace column_type {
inline constexpr std::uint8_t kLongLong = 0x08;
inline constexpr std::uint8_t kVarString = 0xfd;
}  // namespace column_type

// Column definition flags (a subset).
namespace column_flag {
inline constexpr std::uint16_t kNotNull = 0x0001;
inline constexpr std::uint16_t kUnsigned = 0x0020;
inline constexpr std::uint16_t kBinary = 0x0080;
}  // namespace column_flag

struct ColumnDefinition {
  std::string schema = {};
  std::string table = {};
  std::string org_table = {};
  std::string name = {};
  std::string org_name = {};
  std::uint16_t character_set = 0;  // Collation id; 63 = binary.
  std::uint32_t column_length = 0;
  std::uint8_t type = column_type::kVarString;
  std::uint16_t flags = 0;
  std::uint8_t decimals = 0;
  friend bool operator==(const ColumnDefinition&, const ColumnDefinition&) = default;
};

// One text row: a value per column, nullopt for NULL.
struct TextRow {
  std::vector<std::optional<std::string>> values = {};
  friend bool operator==(const TextRow&, const TextRow&) = default;
};

template <>
Result<ColumnDefinition> Decode<ColumnDefinition>(ByteView payload, Capabilities caps);
Bytes Encode(const ColumnDefinition& message, Capabilities caps);

// A row of `columns` values.
Result<TextRow> DecodeTextRow(ByteView payload, std::size_t columns);
Bytes Encode(const TextRow& row);

}  // namespace longlink::protocol
