#include "protocol/command.h"

#include <string_view>

namespace longlink::protocol {
namespace {

// Reads the command byte and checks it is `expected`.
Status ReadCommandByte(Reader* reader, Command expected, std::string_view message) {
  auto command = reader->ReadU8();
  if (!command) return Truncated(message, "command");
  if (*command != static_cast<std::uint8_t>(expected)) {
    return Malformed(message, "command byte " + std::to_string(*command) + ", expected " +
                                  std::to_string(static_cast<unsigned>(expected)));
  }
  return {};
}

Status ExpectEnd(const Reader& reader, std::string_view message) {
  if (!reader.empty()) return Malformed(message, "bytes after the last field");
  return {};
}

Writer StartCommand(Command command, Bytes* out) {
  Writer writer(out);
  writer.WriteU8(static_cast<std::uint8_t>(command));
  return writer;
}

// Commands whose only field is a statement id.
template <typename Message>
Result<Message> DecodeStatementIdOnly(ByteView payload, Command command, std::string_view message) {
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, command, message); !status) return status.error();
  auto statement_id = reader.ReadU32();
  if (!statement_id) return Truncated(message, "statement id");
  if (auto status = ExpectEnd(reader, message); !status) return status.error();
  return Message{.statement_id = *statement_id};
}

}  // namespace

Result<Command> CommandOf(ByteView payload) {
  if (payload.empty()) return Error{"command packet: empty payload"};
  return static_cast<Command>(payload[0]);
}

Bytes EncodeCommand(Command command) { return Bytes{static_cast<std::uint8_t>(command)}; }

std::optional<std::uint32_t> StatementIdOf(ByteView payload) {
  Reader reader(payload);
  auto command = reader.ReadU8();
  if (!command) return std::nullopt;
  switch (static_cast<Command>(*command)) {
    case Command::kStmtExecute:
    case Command::kStmtSendLongData:
    case Command::kStmtClose:
    case Command::kStmtReset:
    case Command::kStmtFetch:
    case Command::kStmtBulkExecute:
      return reader.ReadU32();
    default:
      return std::nullopt;
  }
}

// ---- Text commands: command byte + rest ----

template <>
Result<Query> Decode<Query>(ByteView payload) {
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, Command::kQuery, "COM_QUERY"); !status) {
    return status.error();
  }
  return Query{.query = std::string(reader.ReadRest())};
}

Bytes Encode(const Query& message) {
  Bytes out;
  StartCommand(Command::kQuery, &out).WriteString(message.query);
  return out;
}

template <>
Result<InitDb> Decode<InitDb>(ByteView payload) {
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, Command::kInitDb, "COM_INIT_DB"); !status) {
    return status.error();
  }
  return InitDb{.schema = std::string(reader.ReadRest())};
}

Bytes Encode(const InitDb& message) {
  Bytes out;
  StartCommand(Command::kInitDb, &out).WriteString(message.schema);
  return out;
}

template <>
Result<StmtPrepare> Decode<StmtPrepare>(ByteView payload) {
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, Command::kStmtPrepare, "COM_STMT_PREPARE"); !status) {
    return status.error();
  }
  return StmtPrepare{.query = std::string(reader.ReadRest())};
}

Bytes Encode(const StmtPrepare& message) {
  Bytes out;
  StartCommand(Command::kStmtPrepare, &out).WriteString(message.query);
  return out;
}

template <>
Result<FieldList> Decode<FieldList>(ByteView payload) {
  constexpr std::string_view kMessage = "COM_FIELD_LIST";
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, Command::kFieldList, kMessage); !status) {
    return status.error();
  }
  auto table = reader.ReadNulString();
  if (!table) return Truncated(kMessage, "table");
  return FieldList{.table = std::string(*table), .wildcard = std::string(reader.ReadRest())};
}

Bytes Encode(const FieldList& message) {
  Bytes out;
  Writer writer = StartCommand(Command::kFieldList, &out);
  writer.WriteNulString(message.table);
  writer.WriteString(message.wildcard);
  return out;
}

// ---- COM_SET_OPTION ----

template <>
Result<SetOption> Decode<SetOption>(ByteView payload) {
  constexpr std::string_view kMessage = "COM_SET_OPTION";
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, Command::kSetOption, kMessage); !status) {
    return status.error();
  }
  auto option = reader.ReadU16();
  if (!option) return Truncated(kMessage, "option");
  if (auto status = ExpectEnd(reader, kMessage); !status) return status.error();
  return SetOption{.option = *option};
}

Bytes Encode(const SetOption& message) {
  Bytes out;
  StartCommand(Command::kSetOption, &out).WriteU16(message.option);
  return out;
}

// ---- Prepared statements ----

template <>
Result<StmtExecute> Decode<StmtExecute>(ByteView payload) {
  constexpr std::string_view kMessage = "COM_STMT_EXECUTE";
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, Command::kStmtExecute, kMessage); !status) {
    return status.error();
  }
  auto statement_id = reader.ReadU32();
  if (!statement_id) return Truncated(kMessage, "statement id");
  auto flags = reader.ReadU8();
  if (!flags) return Truncated(kMessage, "flags");
  auto iteration_count = reader.ReadU32();
  if (!iteration_count) return Truncated(kMessage, "iteration count");
  return StmtExecute{.statement_id = *statement_id,
                     .flags = *flags,
                     .iteration_count = *iteration_count,
                     .parameters = std::string(reader.ReadRest())};
}

Bytes Encode(const StmtExecute& message) {
  Bytes out;
  Writer writer = StartCommand(Command::kStmtExecute, &out);
  writer.WriteU32(message.statement_id);
  writer.WriteU8(message.flags);
  writer.WriteU32(message.iteration_count);
  writer.WriteString(message.parameters);
  return out;
}

template <>
Result<StmtSendLongData> Decode<StmtSendLongData>(ByteView payload) {
  constexpr std::string_view kMessage = "COM_STMT_SEND_LONG_DATA";
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, Command::kStmtSendLongData, kMessage); !status) {
    return status.error();
  }
  auto statement_id = reader.ReadU32();
  if (!statement_id) return Truncated(kMessage, "statement id");
  auto parameter_id = reader.ReadU16();
  if (!parameter_id) return Truncated(kMessage, "parameter id");
  return StmtSendLongData{.statement_id = *statement_id,
                          .parameter_id = *parameter_id,
                          .data = std::string(reader.ReadRest())};
}

Bytes Encode(const StmtSendLongData& message) {
  Bytes out;
  Writer writer = StartCommand(Command::kStmtSendLongData, &out);
  writer.WriteU32(message.statement_id);
  writer.WriteU16(message.parameter_id);
  writer.WriteString(message.data);
  return out;
}

template <>
Result<StmtClose> Decode<StmtClose>(ByteView payload) {
  return DecodeStatementIdOnly<StmtClose>(payload, Command::kStmtClose, "COM_STMT_CLOSE");
}

Bytes Encode(const StmtClose& message) {
  Bytes out;
  StartCommand(Command::kStmtClose, &out).WriteU32(message.statement_id);
  return out;
}

template <>
Result<StmtReset> Decode<StmtReset>(ByteView payload) {
  return DecodeStatementIdOnly<StmtReset>(payload, Command::kStmtReset, "COM_STMT_RESET");
}

Bytes Encode(const StmtReset& message) {
  Bytes out;
  StartCommand(Command::kStmtReset, &out).WriteU32(message.statement_id);
  return out;
}

template <>
Result<StmtFetch> Decode<StmtFetch>(ByteView payload) {
  constexpr std::string_view kMessage = "COM_STMT_FETCH";
  Reader reader(payload);
  if (auto status = ReadCommandByte(&reader, Command::kStmtFetch, kMessage); !status) {
    return status.error();
  }
  auto statement_id = reader.ReadU32();
  if (!statement_id) return Truncated(kMessage, "statement id");
  auto row_count = reader.ReadU32();
  if (!row_count) return Truncated(kMessage, "row count");
  if (auto status = ExpectEnd(reader, kMessage); !status) return status.error();
  return StmtFetch{.statement_id = *statement_id, .row_count = *row_count};
}

Bytes Encode(const StmtFetch& message) {
  Bytes out;
  Writer writer = StartCommand(Command::kStmtFetch, &out);
  writer.WriteU32(message.statement_id);
  writer.WriteU32(message.row_count);
  return out;
}

}  // namespace longlink::protocol
