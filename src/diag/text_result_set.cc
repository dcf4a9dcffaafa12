#include "diag/text_result_set.h"

#include <fmt/format.h>

namespace longlink::diag {
namespace {

using protocol::ByteView;
using protocol::Reader;
using protocol::ServerPacketKind;

// The column name: the fifth lenenc string of a column definition (catalog, schema, table,
// original table, name, ...).
Result<std::string> ColumnName(ByteView definition) {
  Reader reader(definition);
  for (int i = 0; i < 5; ++i) {
    auto text = reader.ReadLenencString();
    if (!text) return protocol::Truncated("column definition", "name");
    if (i == 4) return std::string(*text);
  }
  return protocol::Truncated("column definition", "name");  // Not reached.
}

Result<std::vector<std::string>> RowValues(ByteView payload, std::size_t columns) {
  Reader reader(payload);
  std::vector<std::string> values;
  values.reserve(columns);
  for (std::size_t i = 0; i < columns; ++i) {
    if (reader.Peek() == protocol::kLenencNull) {
      reader.Skip(1);
      values.emplace_back();
      continue;
    }
    auto text = reader.ReadLenencString();
    if (!text) return protocol::Truncated("text row", fmt::format("column {}", i + 1));
    values.emplace_back(*text);
  }
  if (!reader.empty()) return protocol::Malformed("text row", "more values than columns");
  return values;
}

}  // namespace

std::optional<std::size_t> TextResultSet::ColumnIndex(std::string_view name) const {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return i;
  }
  return std::nullopt;
}

TextResultSetReader::TextResultSetReader(protocol::Capabilities caps, std::size_t max_rows)
    : tracker_(protocol::ResponseShape::kQuery, caps), max_rows_(max_rows) {}

Status TextResultSetReader::Add(ByteView payload) {
  if (failed_ || tracker_.complete()) return Error{"result set: packet after the end"};
  auto kind = tracker_.OnServerPacket(payload);
  if (!kind) {
    failed_ = true;
    return kind.error();
  }
  auto fail = [&](Error error) -> Status {
    failed_ = true;
    return error;
  };
  switch (*kind) {
    case ServerPacketKind::kColumnDefinition: {
      auto name = ColumnName(payload);
      if (!name) return fail(name.error());
      result_.columns.push_back(std::move(*name));
      break;
    }
    case ServerPacketKind::kRow: {
      if (result_.rows.size() >= max_rows_)
        return fail(Error{fmt::format("result set: more than {} rows", max_rows_)});
      auto values = RowValues(payload, result_.columns.size());
      if (!values) return fail(values.error());
      result_.rows.push_back(std::move(*values));
      break;
    }
    case ServerPacketKind::kErr: {
      failed_ = true;
      const auto& err = *tracker_.error();
      return Error{fmt::format("error {}: {}", err.code, err.message)};
    }
    case ServerPacketKind::kLocalInfileRequest:
      return fail(Error{"result set: the server asked for a local file"});
    case ServerPacketKind::kOk:
    case ServerPacketKind::kOkAsEof:
    case ServerPacketKind::kEof:
      if (tracker_.more_results()) return fail(Error{"result set: more than one result"});
      break;
    case ServerPacketKind::kColumnCount:
    case ServerPacketKind::kProgressReport:
      break;
    default:
      return fail(Error{"result set: unexpected packet"});
  }
  return {};
}

}  // namespace longlink::diag
