#include "protocol/session_track.h"

#include <array>
#include <initializer_list>
#include <string_view>

namespace longlink::protocol {
namespace {

constexpr std::string_view kMessage = "session state";

// Reads exactly `count` lenenc strings that fill `data`.
template <std::size_t count>
Result<std::array<std::string, count>> ReadStrings(std::string_view data, std::string_view what) {
  Reader reader(data);
  std::array<std::string, count> strings;
  for (auto& text : strings) {
    auto value = reader.ReadLenencString();
    if (!value) return Truncated(kMessage, what);
    text = *value;
  }
  if (!reader.empty()) return Malformed(kMessage, std::string("bytes after ") + std::string(what));
  return strings;
}

Result<SessionChange> DecodeEntry(std::uint8_t type, std::string_view data) {
  switch (static_cast<SessionTrackType>(type)) {
    case SessionTrackType::kSystemVariables: {
      auto strings = ReadStrings<2>(data, "system variable");
      if (!strings) return strings.error();
      return SessionChange(SystemVariableChange{.name = std::move((*strings)[0]),
                                                .value = std::move((*strings)[1])});
    }
    case SessionTrackType::kSchema: {
      auto strings = ReadStrings<1>(data, "schema");
      if (!strings) return strings.error();
      return SessionChange(SchemaChange{.schema = std::move((*strings)[0])});
    }
    case SessionTrackType::kStateChange:
      // Unlike the others, the data is the flag itself, not a length-encoded string: MariaDB
      // 10.11 sends 02 01 31.
      return SessionChange(StateChange{.value = std::string(data)});
    case SessionTrackType::kTransactionCharacteristics: {
      auto strings = ReadStrings<1>(data, "transaction characteristics");
      if (!strings) return strings.error();
      return SessionChange(
          TransactionCharacteristicsChange{.characteristics = std::move((*strings)[0])});
    }
    case SessionTrackType::kTransactionState: {
      auto strings = ReadStrings<1>(data, "transaction state");
      if (!strings) return strings.error();
      return SessionChange(TransactionStateChange{.state = std::move((*strings)[0])});
    }
    case SessionTrackType::kGtids:
    default:
      return SessionChange(UnknownSessionChange{.type = type, .data = std::string(data)});
  }
}

struct EntryWriter {
  Writer* writer;

  void Entry(SessionTrackType type, const Bytes& data) const {
    writer->WriteU8(static_cast<std::uint8_t>(type));
    writer->WriteLenencInt(data.size());
    writer->WriteBytes(data);
  }
  static Bytes Strings(std::initializer_list<std::string_view> strings) {
    Bytes data;
    Writer inner(&data);
    for (std::string_view text : strings) inner.WriteLenencString(text);
    return data;
  }

  void operator()(const SystemVariableChange& change) const {
    Entry(SessionTrackType::kSystemVariables, Strings({change.name, change.value}));
  }
  void operator()(const SchemaChange& change) const {
    Entry(SessionTrackType::kSchema, Strings({change.schema}));
  }
  void operator()(const StateChange& change) const {
    const ByteView value = AsBytes(change.value);
    Entry(SessionTrackType::kStateChange, Bytes(value.begin(), value.end()));
  }
  void operator()(const TransactionCharacteristicsChange& change) const {
    Entry(SessionTrackType::kTransactionCharacteristics, Strings({change.characteristics}));
  }
  void operator()(const TransactionStateChange& change) const {
    Entry(SessionTrackType::kTransactionState, Strings({change.state}));
  }
  void operator()(const UnknownSessionChange& change) const {
    writer->WriteU8(change.type);
    writer->WriteLenencString(change.data);
  }
};

}  // namespace

Result<std::vector<SessionChange>> DecodeSessionState(ByteView session_state) {
  Reader reader(session_state);
  std::vector<SessionChange> changes;
  while (!reader.empty()) {
    const std::uint8_t type = *reader.ReadU8();
    auto data = reader.ReadLenencString();
    if (!data) return Truncated(kMessage, "entry data");
    auto change = DecodeEntry(type, *data);
    if (!change) return change.error();
    changes.push_back(std::move(*change));
  }
  return changes;
}

std::string EncodeSessionState(const std::vector<SessionChange>& changes) {
  Bytes out;
  Writer writer(&out);
  for (const SessionChange& change : changes) std::visit(EntryWriter{&writer}, change);
  return std::string(AsChars(out));
}

}  // namespace longlink::protocol
