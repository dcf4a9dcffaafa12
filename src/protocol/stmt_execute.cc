#include "protocol/stmt_execute.h"

#include <algorithm>

namespace longlink::protocol {

Result<ExecuteLayout> ParseExecuteLayout(ByteView payload, std::uint16_t parameters) {
  if (payload.size() < kExecuteFixedSize) {
    return Error{"COM_STMT_EXECUTE shorter than its fixed part"};
  }
  ExecuteLayout layout;
  if (parameters == 0) {
    layout.values = payload.size();
    return layout;
  }
  layout.bound_flag = kExecuteFixedSize + (parameters + 7u) / 8u;
  if (payload.size() <= layout.bound_flag) {
    return Error{"COM_STMT_EXECUTE ends before its new-params-bound flag"};
  }
  layout.types_bound = payload[layout.bound_flag] != 0;  // The server tests it for nonzero.
  layout.values = layout.bound_flag + 1 + (layout.types_bound ? 2u * parameters : 0u);
  if (payload.size() < layout.values) return Error{"COM_STMT_EXECUTE ends in its types"};
  return layout;
}

std::optional<ByteView> ExecuteTypes(ByteView payload, const ExecuteLayout& layout,
                                     std::uint16_t parameters) {
  if (!layout.types_bound) return std::nullopt;
  return payload.subspan(layout.bound_flag + 1, 2u * parameters);
}

void SetStatementId(std::span<std::uint8_t> payload, std::uint32_t statement) {
  for (std::size_t i = 0; i < 4; ++i) {
    payload[kExecuteStatementId + i] = static_cast<std::uint8_t>(statement >> (8 * i));
  }
}

Bytes WithTypes(ByteView payload, const ExecuteLayout& layout, ByteView types,
                std::uint32_t statement) {
  Bytes out;
  out.reserve(payload.size() + types.size());
  out.insert(out.end(), payload.begin(), payload.begin() + static_cast<long>(layout.bound_flag));
  out.push_back(1);
  out.insert(out.end(), types.begin(), types.end());
  out.insert(out.end(), payload.begin() + static_cast<long>(layout.bound_flag + 1), payload.end());
  SetStatementId(out, statement);
  return out;
}

std::optional<std::string> ColumnIdentity(ByteView definition) {
  Reader reader(definition);
  std::string identity;
  for (int i = 0; i < 6; ++i) {
    auto length = reader.ReadLenencInt();
    if (!length) return std::nullopt;
    auto text = reader.ReadString(static_cast<std::size_t>(*length));
    if (!text) return std::nullopt;
    identity += *text;
    identity += '\0';
  }
  return identity;
}

}  // namespace longlink::protocol
