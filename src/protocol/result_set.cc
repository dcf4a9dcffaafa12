#include "protocol/result_set.h"

namespace longlink::protocol {

namespace {

constexpr std::uint8_t kFixedFieldsLength = 0x0c;
constexpr std::uint8_t kNullValue = 0xfb;

}  // namespace

template <>
Result<ColumnDefinition> Decode<ColumnDefinition>(ByteView payload, Capabilities caps) {
  Reader reader(payload);
  ColumnDefinition column;
  const auto catalog = reader.ReadLenencString();
  if (!catalog) return Error{"column definition: truncated catalog"};
  std::string* const strings[] = {&column.schema, &column.table, &column.org_table, &column.name,
                                  &column.org_name};
  for (std::string* field : strings) {
    const auto text = reader.ReadLenencString();
    if (!text) return Error{"column definition: truncated name fields"};
    *field = std::string(*text);
  }
  if (caps & capability::kMariadbExtendedMetadata) {
    if (!reader.ReadLenencString()) return Error{"column definition: truncated extended metadata"};
  }
  const auto fixed = reader.ReadLenencInt();
  if (!fixed || *fixed < kFixedFieldsLength) {
    return Error{"column definition: bad length of the fixed fields"};
  }
  const auto character_set = reader.ReadU16();
  const auto length = reader.ReadU32();
  const auto type = reader.ReadU8();
  const auto flags = reader.ReadU16();
  const auto decimals = reader.ReadU8();
  if (!character_set || !length || !type || !flags || !decimals) {
    return Error{"column definition: truncated fixed fields"};
  }
  column.character_set = *character_set;
  column.column_length = *length;
  column.type = *type;
  column.flags = *flags;
  column.decimals = *decimals;
  return column;
}

Bytes Encode(const ColumnDefinition& message, Capabilities caps) {
  Bytes out;
  Writer writer(&out);
  writer.WriteLenencString("def");
  writer.WriteLenencString(message.schema);
  writer.WriteLenencString(message.table);
  writer.WriteLenencString(message.org_table);
  writer.WriteLenencString(message.name);
  writer.WriteLenencString(message.org_name);
  if (caps & capability::kMariadbExtendedMetadata) writer.WriteLenencString("");
  writer.WriteLenencInt(kFixedFieldsLength);
  writer.WriteU16(message.character_set);
  writer.WriteU32(message.column_length);
  writer.WriteU8(message.type);
  writer.WriteU16(message.flags);
  writer.WriteU8(message.decimals);
  writer.WriteZeros(2);
  return out;
}

Result<TextRow> DecodeTextRow(ByteView payload, std::size_t columns) {
  Reader reader(payload);
  TextRow row;
  row.values.reserve(columns);
  for (std::size_t i = 0; i < columns; ++i) {
    if (reader.Peek() == kNullValue) {
      reader.ReadU8();
      row.values.emplace_back(std::nullopt);
      continue;
    }
    const auto value = reader.ReadLenencString();
    if (!value) return Error{"text row: truncated value " + std::to_string(i + 1)};
    row.values.emplace_back(std::string(*value));
  }
  if (reader.remaining() != 0) return Error{"text row: bytes after the last value"};
  return row;
}

Bytes Encode(const TextRow& row) {
  Bytes out;
  Writer writer(&out);
  for (const auto& value : row.values) {
    if (value) {
      writer.WriteLenencString(*value);
    } else {
      writer.WriteU8(kNullValue);
    }
  }
  return out;
}

}  // namespace longlink::protocol
