#include "protocol/packets.h"

#include <cassert>

namespace longlink::protocol {
namespace {

constexpr std::size_t kSqlStateSize = 5;
constexpr char kSqlStateMarker = '#';

}  // namespace

// ---- OK ----

template <>
Result<OkPacket> Decode<OkPacket>(ByteView payload, Capabilities caps) {
  constexpr std::string_view kMessage = "OK packet";
  Reader reader(payload);
  auto first = reader.ReadU8();
  if (!first) return Truncated(kMessage, "header");
  if (*first != header::kOk && *first != header::kEof) {
    return Malformed(kMessage, "header is neither 0x00 nor 0xFE");
  }
  auto affected_rows = reader.ReadLenencInt();
  if (!affected_rows) return Truncated(kMessage, "affected rows");
  auto last_insert_id = reader.ReadLenencInt();
  if (!last_insert_id) return Truncated(kMessage, "last insert id");
  std::uint16_t status_flags = 0;
  std::uint16_t warnings = 0;
  if (caps & capability::kProtocol41) {
    auto status = reader.ReadU16();
    if (!status) return Truncated(kMessage, "status flags");
    auto warning_count = reader.ReadU16();
    if (!warning_count) return Truncated(kMessage, "warnings");
    status_flags = *status;
    warnings = *warning_count;
  } else if (caps & capability::kTransactions) {
    auto status = reader.ReadU16();
    if (!status) return Truncated(kMessage, "status flags");
    status_flags = *status;
  }

  std::string info;
  std::string session_state;
  if (caps & capability::kSessionTrack) {
    if (!reader.empty()) {
      auto text = reader.ReadLenencString();
      if (!text) return Truncated(kMessage, "info");
      info = *text;
    }
    if ((status_flags & status::kSessionStateChanged) && !reader.empty()) {
      auto state = reader.ReadLenencString();
      if (!state) return Truncated(kMessage, "session state");
      session_state = *state;
      // MariaDB 10.11 writes the session state in the new default schema's character set:
      // after USE of a ucs2 (utf16, utf32) schema the one-byte length it reserves comes out
      // as 2-4 bytes, so zero bytes stand before the real length (00 00 07 01 02 01 75 ...).
      // Client libraries read an empty state and ignore the rest; the proxy recovers it.
      for (int zeros = 0; session_state.empty() && zeros < 3 && !reader.empty(); ++zeros) {
        Reader attempt = reader;
        auto real = attempt.ReadLenencString();
        if (real && attempt.empty()) {
          session_state = *real;
          reader = attempt;
          break;
        }
        if (reader.Peek() != 0) break;
        reader.Skip(1);
      }
    }
    // Anything after the session state is ignored, as client libraries do: a packet the
    // server sent is never turned into an error.
  } else if (!reader.empty()) {
    Reader attempt = reader;
    auto text = attempt.ReadLenencString();
    info = text && attempt.empty() ? std::string(*text) : std::string(reader.ReadRest());
  }

  return OkPacket{
      .header = *first == header::kOk ? OkPacket::Header::kOk : OkPacket::Header::kEof,
      .affected_rows = *affected_rows,
      .last_insert_id = *last_insert_id,
      .status_flags = status_flags,
      .warnings = warnings,
      .info = std::move(info),
      .session_state = std::move(session_state),
  };
}

Bytes Encode(const OkPacket& message, Capabilities caps) {
  Bytes out;
  Writer writer(&out);
  writer.WriteU8(static_cast<std::uint8_t>(message.header));
  writer.WriteLenencInt(message.affected_rows);
  writer.WriteLenencInt(message.last_insert_id);
  if (caps & capability::kProtocol41) {
    writer.WriteU16(message.status_flags);
    writer.WriteU16(message.warnings);
  } else if (caps & capability::kTransactions) {
    writer.WriteU16(message.status_flags);
  }
  if (caps & capability::kSessionTrack) {
    const bool state_changed = (message.status_flags & status::kSessionStateChanged) != 0;
    if (state_changed || !message.info.empty()) writer.WriteLenencString(message.info);
    if (state_changed) writer.WriteLenencString(message.session_state);
  } else if (!message.info.empty()) {
    writer.WriteLenencString(message.info);
  }
  return out;
}

// ---- ERR ----

ErrPacket MakeErrPacket(const ServerError& error, std::string message) {
  return ErrPacket{
      .code = error.code, .sql_state = std::string(error.sql_state), .message = std::move(message)};
}

ErrPacket AccessDeniedError(std::string_view user, std::string_view host, bool used_password) {
  std::string message = "Access denied for user '";
  message += user;
  message += "'@'";
  message += host;
  message += used_password ? "' (using password: YES)" : "' (using password: NO)";
  return MakeErrPacket(server_error::kAccessDenied, std::move(message));
}

ErrPacket TooManyConnectionsError() {
  return MakeErrPacket(server_error::kConCountError, "Too many connections");
}

bool ServerClosesAfter(std::uint16_t code) {
  constexpr std::uint16_t kClientInteractionTimeout = 4031;
  return (code >= server_error::kNetPacketTooLarge.code &&
          code <= server_error::kNetWriteInterrupted.code) ||
         code == server_error::kConnectionKilled.code ||
         code == server_error::kServerShutdown.code || code == kClientInteractionTimeout;
}

ErrPacket WithSqlState(ErrPacket error) {
  if (!error.sql_state.empty()) return error;
  namespace e = server_error;
  static constexpr ServerError kKnown[] = {
      e::kConCountError,
      e::kOutOfResources,
      e::kBadHostError,
      e::kHandshakeError,
      e::kDbAccessDenied,
      e::kAccessDenied,
      e::kNoDbError,
      e::kUnknownComError,
      e::kBadDbError,
      e::kServerShutdown,
      e::kParseError,
      e::kUnknownError,
      e::kNotAllowedCommand,
      e::kNetPacketTooLarge,
      e::kNetReadErrorFromPipe,
      e::kNetFcntlError,
      e::kNetPacketsOutOfOrder,
      e::kNetUncompressError,
      e::kNetReadError,
      e::kNetReadInterrupted,
      e::kNetErrorOnWrite,
      e::kNetWriteInterrupted,
      e::kTooManyUserConnections,
      e::kNotSupportedYet,
      e::kUnknownStmtHandler,
      e::kNotSupportedAuthMode,
      e::kQueryInterrupted,
      e::kAccessDeniedNoPassword,
      e::kMalformedPacket,
      e::kConnectionKilled,
  };
  error.sql_state = e::kUnknownError.sql_state;
  for (const ServerError& known : kKnown) {
    if (known.code == error.code) error.sql_state = known.sql_state;
  }
  return error;
}

bool IsProgressReport(ByteView payload) {
  return payload.size() >= 3 && payload[0] == header::kErr && payload[1] == 0xff &&
         payload[2] == 0xff;
}

template <>
Result<ErrPacket> Decode<ErrPacket>(ByteView payload, Capabilities /*caps*/) {
  constexpr std::string_view kMessage = "ERR packet";
  Reader reader(payload);
  auto first = reader.ReadU8();
  if (!first) return Truncated(kMessage, "header");
  if (*first != header::kErr) return Malformed(kMessage, "header is not 0xFF");
  auto code = reader.ReadU16();
  if (!code) return Truncated(kMessage, "error code");
  if (*code == kProgressReportErrorCode) {
    return Malformed(kMessage, "code 0xFFFF: a progress report, not an error");
  }
  std::string sql_state;
  if (reader.Peek() == static_cast<std::uint8_t>(kSqlStateMarker)) {
    reader.Skip(1);
    auto state = reader.ReadString(kSqlStateSize);
    if (!state) return Truncated(kMessage, "SQLSTATE");
    sql_state = *state;
  }
  return ErrPacket{
      .code = *code, .sql_state = std::move(sql_state), .message = std::string(reader.ReadRest())};
}

Bytes Encode(const ErrPacket& message, Capabilities caps) {
  assert(message.sql_state.empty() || message.sql_state.size() == kSqlStateSize);
  Bytes out;
  Writer writer(&out);
  writer.WriteU8(header::kErr);
  writer.WriteU16(message.code);
  if ((caps & capability::kProtocol41) && message.sql_state.size() == kSqlStateSize) {
    writer.WriteU8(static_cast<std::uint8_t>(kSqlStateMarker));
    writer.WriteString(message.sql_state);
  }
  writer.WriteString(message.message);
  return out;
}

// ---- EOF ----

template <>
Result<EofPacket> Decode<EofPacket>(ByteView payload, Capabilities caps) {
  constexpr std::string_view kMessage = "EOF packet";
  Reader reader(payload);
  auto first = reader.ReadU8();
  if (!first) return Truncated(kMessage, "header");
  if (*first != header::kEof) return Malformed(kMessage, "header is not 0xFE");
  EofPacket eof;
  if (caps & capability::kProtocol41) {
    auto warnings = reader.ReadU16();
    if (!warnings) return Truncated(kMessage, "warnings");
    auto status = reader.ReadU16();
    if (!status) return Truncated(kMessage, "status flags");
    eof.warnings = *warnings;
    eof.status_flags = *status;
  }
  if (!reader.empty()) return Malformed(kMessage, "bytes after the status flags");
  return eof;
}

Bytes Encode(const EofPacket& message, Capabilities caps) {
  Bytes out;
  Writer writer(&out);
  writer.WriteU8(header::kEof);
  if (caps & capability::kProtocol41) {
    writer.WriteU16(message.warnings);
    writer.WriteU16(message.status_flags);
  }
  return out;
}

// ---- COM_STMT_PREPARE_OK ----

template <>
Result<StmtPrepareOk> Decode<StmtPrepareOk>(ByteView payload, Capabilities caps) {
  constexpr std::string_view kMessage = "COM_STMT_PREPARE_OK";
  Reader reader(payload);
  auto first = reader.ReadU8();
  if (!first) return Truncated(kMessage, "header");
  if (*first != header::kOk) return Malformed(kMessage, "header is not 0x00");
  auto statement_id = reader.ReadU32();
  if (!statement_id) return Truncated(kMessage, "statement id");
  auto columns = reader.ReadU16();
  if (!columns) return Truncated(kMessage, "column count");
  auto parameters = reader.ReadU16();
  if (!parameters) return Truncated(kMessage, "parameter count");
  if (!reader.Skip(1)) return Truncated(kMessage, "filler");
  auto warnings = reader.ReadU16();
  if (!warnings) return Truncated(kMessage, "warnings");
  if ((caps & capability::kOptionalResultsetMetadata) && reader.remaining() == 1) reader.Skip(1);
  if (!reader.empty()) return Malformed(kMessage, "bytes after the warning count");
  return StmtPrepareOk{.statement_id = *statement_id,
                       .column_count = *columns,
                       .parameter_count = *parameters,
                       .warnings = *warnings};
}

Bytes Encode(const StmtPrepareOk& message, Capabilities /*caps*/) {
  Bytes out;
  Writer writer(&out);
  writer.WriteU8(header::kOk);
  writer.WriteU32(message.statement_id);
  writer.WriteU16(message.column_count);
  writer.WriteU16(message.parameter_count);
  writer.WriteU8(0);
  writer.WriteU16(message.warnings);
  return out;
}

// ---- Column count ----

template <>
Result<ColumnCount> Decode<ColumnCount>(ByteView payload, Capabilities caps) {
  constexpr std::string_view kMessage = "column count";
  Reader reader(payload);
  auto count = reader.ReadLenencInt();
  if (!count) return Truncated(kMessage, "count");
  if (*count == 0) return Malformed(kMessage, "zero columns");
  bool metadata_follows = true;
  if (caps & capability::kMariadbCacheMetadata) {
    auto flag = reader.ReadU8();
    if (!flag) return Truncated(kMessage, "metadata-follows flag");
    metadata_follows = *flag != 0;
  }
  if (!reader.empty()) return Malformed(kMessage, "bytes after the count");
  return ColumnCount{.count = *count, .metadata_follows = metadata_follows};
}

Bytes Encode(const ColumnCount& message, Capabilities caps) {
  Bytes out;
  Writer writer(&out);
  writer.WriteLenencInt(message.count);
  if (caps & capability::kMariadbCacheMetadata) writer.WriteU8(message.metadata_follows ? 1 : 0);
  return out;
}

// ---- LOCAL INFILE request ----

template <>
Result<LocalInfileRequest> Decode<LocalInfileRequest>(ByteView payload, Capabilities /*caps*/) {
  constexpr std::string_view kMessage = "LOCAL INFILE request";
  Reader reader(payload);
  auto first = reader.ReadU8();
  if (!first) return Truncated(kMessage, "header");
  if (*first != header::kLocalInfile) return Malformed(kMessage, "header is not 0xFB");
  return LocalInfileRequest{.filename = std::string(reader.ReadRest())};
}

Bytes Encode(const LocalInfileRequest& message, Capabilities /*caps*/) {
  Bytes out;
  Writer writer(&out);
  writer.WriteU8(header::kLocalInfile);
  writer.WriteString(message.filename);
  return out;
}

}  // namespace longlink::protocol
