// Generic server responses: OK, ERR, EOF, and the small fixed packets of a response
// (COM_STMT_PREPARE_OK, the column-count packet, the LOCAL INFILE request).
//
// The same message has different bytes under different capabilities, so the codecs take the
// negotiated capabilities: Decode<T>(payload, caps) and Encode(message, caps). The capabilities
// are those of the hop the bytes travel on; to forward a backend's OK to a client with other
// capabilities, decode with the backend's and encode with the client's.
//
// The OK info field: real servers (MariaDB's net_send_ok, libmariadb's ma_read_ok_packet) send
// it as a lenenc string with or without SESSION_TRACK, and omit it when it is empty and no
// session state follows. MySQL's documentation shows string<EOF> without SESSION_TRACK; Decode
// accepts that form too (see OkPacket).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/constants.h"
#include "protocol/wire.h"

namespace longlink::protocol {

// OK: 0x00 (or 0xFE as a result-set terminator under DEPRECATE_EOF), lenenc affected rows,
// lenenc last insert id, then with PROTOCOL_41 int<2> status and int<2> warnings (without it,
// int<2> status if TRANSACTIONS), then:
//   with SESSION_TRACK: lenenc info and, if status has SESSION_STATE_CHANGED, lenenc session
//     state; both omitted when info is empty and the state did not change.
//   without: lenenc info, omitted when empty. Decode falls back to info = rest of packet when
//     the rest is not exactly one lenenc string (the string<EOF> form of MySQL's docs).
// Encoding for a client without SESSION_TRACK drops session_state (the status flags are kept
// as the server sent them); this is how a proxy re-encodes a backend's OK for such a client.
struct OkPacket {
  enum class Header : std::uint8_t { kOk = 0x00, kEof = 0xfe };
  Header header = Header::kOk;
  std::uint64_t affected_rows = 0;
  std::uint64_t last_insert_id = 0;
  std::uint16_t status_flags = 0;
  std::uint16_t warnings = 0;
  std::string info = {};
  // The session state changes, as raw bytes (the content of the lenenc string, without its
  // length); parse them with DecodeSessionState (session_track.h).
  std::string session_state = {};
  friend bool operator==(const OkPacket&, const OkPacket&) = default;
};

// ERR: 0xFF, int<2> code, then '#' and a 5-character SQLSTATE (servers send these when the
// client has PROTOCOL_41; clients look for the '#'), then the message (rest of packet).
// Decode looks for the '#' whatever the capabilities (as libmariadb does); Encode writes it only
// with PROTOCOL_41 (as servers do), so without PROTOCOL_41 a round trip loses the SQLSTATE.
// Decode does not accept a MariaDB progress report (code 0xFFFF): see IsProgressReport.
struct ErrPacket {
  std::uint16_t code = 0;
  // Empty when the packet has no '#' marker. REQUIRES (encode): empty or 5 characters.
  std::string sql_state = {};
  std::string message = {};
  friend bool operator==(const ErrPacket&, const ErrPacket&) = default;
};
// An ERR with the code and SQLSTATE of `error`.
ErrPacket MakeErrPacket(const ServerError& error, std::string message);
// ER_ACCESS_DENIED_ERROR (1045, 28000) with MariaDB's message:
// "Access denied for user 'app'@'localhost' (using password: YES)".
ErrPacket AccessDeniedError(std::string_view user, std::string_view host, bool used_password);
// ER_CON_COUNT_ERROR (1040, 08004): "Too many connections". MariaDB 10.11 sends it after the
// greeting, in answer to the handshake response (so with the SQLSTATE of PROTOCOL_41): some
// clients (PyMySQL 1.0) always expect the SQLSTATE marker in an ERR.
ErrPacket TooManyConnectionsError();
// `error` as a PROTOCOL_41 client expects it: an ERR without a SQLSTATE (a server sends that
// form when it refuses a connection before its greeting) gets the SQLSTATE that goes with its
// code in server_error, or HY000 for a code not listed there. One with a SQLSTATE is unchanged.
ErrPacket WithSqlState(ErrPacket error);
// True for the errors after which the server closes the connection: ER_NET_PACKET_TOO_LARGE
// and the other network errors (1153-1161), ER_CONNECTION_KILLED (1927), ER_SERVER_SHUTDOWN
// (1053) and MariaDB's idle disconnect ER_CLIENT_INTERACTION_TIMEOUT (4031). A proxy that
// relays one closes the client too, so that the client sees what it would see direct.
bool ServerClosesAfter(std::uint16_t code);

// True for a MariaDB progress report: 0xFF 0xFF 0xFF ... . It is not an error, and arrives
// only if the client negotiated kMariadbProgress.
bool IsProgressReport(ByteView payload);

// EOF: 0xFE, int<2> warnings, int<2> status (5 bytes; a lone 0xFE without PROTOCOL_41).
struct EofPacket {
  std::uint16_t warnings = 0;
  std::uint16_t status_flags = 0;
  friend bool operator==(const EofPacket&, const EofPacket&) = default;
};

// COM_STMT_PREPARE_OK: 0x00, int<4> statement id, int<2> columns, int<2> parameters, 0x00,
// int<2> warnings (12 bytes). MySQL 8 with OPTIONAL_RESULTSET_METADATA adds int<1>
// metadata-follows, which Decode accepts and drops.
struct StmtPrepareOk {
  std::uint32_t statement_id = 0;
  std::uint16_t column_count = 0;
  std::uint16_t parameter_count = 0;
  std::uint16_t warnings = 0;
  friend bool operator==(const StmtPrepareOk&, const StmtPrepareOk&) = default;
};

// The first packet of a result set: lenenc column count, and with MARIADB_CACHE_METADATA an
// int<1> saying whether column definitions follow (0: the client reuses cached ones).
struct ColumnCount {
  std::uint64_t count = 0;       // > 0.
  bool metadata_follows = true;  // Encoded only with kMariadbCacheMetadata.
  friend bool operator==(const ColumnCount&, const ColumnCount&) = default;
};

// The server's request for a client file (LOAD DATA LOCAL INFILE): 0xFB, file name (rest).
struct LocalInfileRequest {
  std::string filename = {};
  friend bool operator==(const LocalInfileRequest&, const LocalInfileRequest&) = default;
};

template <>
Result<OkPacket> Decode<OkPacket>(ByteView payload, Capabilities caps);
template <>
Result<ErrPacket> Decode<ErrPacket>(ByteView payload, Capabilities caps);
template <>
Result<EofPacket> Decode<EofPacket>(ByteView payload, Capabilities caps);
template <>
Result<StmtPrepareOk> Decode<StmtPrepareOk>(ByteView payload, Capabilities caps);
template <>
Result<ColumnCount> Decode<ColumnCount>(ByteView payload, Capabilities caps);
template <>
Result<LocalInfileRequest> Decode<LocalInfileRequest>(ByteView payload, Capabilities caps);

Bytes Encode(const OkPacket& message, Capabilities caps);
Bytes Encode(const ErrPacket& message, Capabilities caps);
Bytes Encode(const EofPacket& message, Capabilities caps);
Bytes Encode(const StmtPrepareOk& message, Capabilities caps);
Bytes Encode(const ColumnCount& message, Capabilities caps);
Bytes Encode(const LocalInfileRequest& message, Capabilities caps);

}  // namespace longlink::protocol
