// Following a command's response packet by packet, without buffering it: which packets belong
// to the response, when it is complete, whether another result follows, the final status flags,
// and whether an ERR ended it. This is what a relay needs to stream results and to know when a
// backend connection is idle again.
//
// Response shapes (S = server packet, per command):
//   none:           QUIT, STMT_SEND_LONG_DATA, STMT_CLOSE: no packet at all.
//   OK or ERR:      INIT_DB, PING, STMT_RESET, RESET_CONNECTION, REFRESH, unknown commands, ...
//   EOF or ERR:     SET_OPTION, DEBUG (EOF, or OK with a 0xFE header under DEPRECATE_EOF).
//   statistics:     STATISTICS: one string packet (or ERR).
//   query:          QUERY, PROCESS_INFO: per result, one of
//                     OK | ERR | LOCAL INFILE request (0xFB) ... OK/ERR |
//                     column count, definitions, [EOF], text rows, EOF/OK-as-EOF/ERR;
//                   a result whose OK/EOF has MORE_RESULTS_EXIST is followed by another.
//   field list:     FIELD_LIST: definitions, then EOF (OK-as-EOF under DEPRECATE_EOF) or ERR.
//   prepare:        STMT_PREPARE: PREPARE_OK, parameter definitions [EOF], column definitions
//                   [EOF]; or ERR.
//   execute:        STMT_EXECUTE, STMT_BULK_EXECUTE: like query but binary rows (each starts
//                   with 0x00); a prepared LOAD DATA gets the LOCAL INFILE exchange too. If
//                   the client asked for a cursor and the metadata EOF has CURSOR_EXISTS (and
//                   not MORE_RESULTS_EXIST), the response ends there: rows come later through
//                   STMT_FETCH (under DEPRECATE_EOF the server sends an OK-as-EOF instead).
//   fetch:          STMT_FETCH: binary rows, then EOF/OK-as-EOF or ERR.
//   authentication: CHANGE_USER: OK | ERR | auth switch (0xFE) or more data, each answered by
//                   the client, until OK or ERR.
// [EOF] is absent under DEPRECATE_EOF.
//
// The 0xFE rule: in the rows (or FIELD_LIST definitions) position a packet starting with 0xFE
// ends the result only if it is shorter than 9 bytes (EOF) or, under DEPRECATE_EOF, shorter
// than 0xFFFFFF bytes (OK with a 0xFE header); a longer one is a text row whose first column
// has an 8-byte length.
#pragma once

#include <cstdint>
#include <optional>

#include "common/result.h"
#include "protocol/constants.h"
#include "protocol/packets.h"
#include "protocol/wire.h"

namespace longlink::protocol {

enum class ResponseShape {
  kNone,            // No reply.
  kOkOrErr,         // A single OK or ERR.
  kEofOrErr,        // A single EOF (or OK) or ERR.
  kStatistics,      // A single string packet or ERR.
  kQuery,           // Text result sets, OK, ERR, LOCAL INFILE; multi-results.
  kFieldList,       // Column definitions then EOF.
  kStmtPrepare,     // PREPARE_OK and definition blocks.
  kStmtExecute,     // Binary result sets, OK, ERR; multi-results; cursors.
  kStmtFetch,       // Binary rows then EOF.
  kAuthentication,  // Auth exchange ending in OK or ERR.
};

// The shape of the server's reply to `command`; nullopt for commands whose replies this code
// does not relay: replication (BINLOG_DUMP, BINLOG_DUMP_GTID, TABLE_DUMP, CONNECT_OUT, and
// REGISTER_SLAVE, which would register the pooled connection as a replica on the server).
// Unknown command bytes get kOkOrErr: the server answers ER_UNKNOWN_COM_ERROR.
std::optional<ResponseShape> ResponseShapeOf(Command command);

// True if a COM_STMT_EXECUTE payload (command byte first) asks for a cursor: its flags byte
// (after the statement id) has a CURSOR_TYPE_* bit. False for a payload too short to say.
bool StmtExecuteRequestsCursor(ByteView payload);

// What a server packet is, for the relay.
enum class ServerPacketKind : std::uint8_t {
  kOk,                   // OK with header 0x00.
  kOkAsEof,              // OK with header 0xFE (DEPRECATE_EOF) ending rows or definitions.
  kEof,                  // EOF packet.
  kErr,                  // ERR: the response is complete.
  kProgressReport,       // MariaDB progress report (only with kMariadbProgress); not final.
  kColumnCount,          // First packet of a result set.
  kColumnDefinition,     // A column definition (result set, FIELD_LIST or PREPARE columns).
  kParameterDefinition,  // A parameter definition after PREPARE_OK.
  kRow,                  // A text or binary row.
  kLocalInfileRequest,   // 0xFB: the client must now send the file, then an empty packet.
  kStmtPrepareOk,        // COM_STMT_PREPARE_OK.
  kStatistics,           // The string reply to COM_STATISTICS.
  kAuthSwitchRequest,    // 0xFE during authentication: the client must answer.
  kAuthMoreData,         // Plugin data during authentication: the client may answer.
};

// True if `payload`, seen where a row may be, ends the result set (the 0xFE rule above).
bool IsResultSetTerminator(ByteView payload, Capabilities caps);

// Follows one command's response. Feed every server packet of the response, in order, to
// OnServerPacket: a logical packet, or when streaming a packet that spans several 0xFFFFFF-byte
// chunks, only its first chunk (a chunk that long is never a terminator; with PeekChunk, feed a
// chunk unless the chunk before it continues()). The tracker keeps no
// packet bytes; OK, EOF, ERR and PREPARE_OK packets are decoded to read their fields.
//
// A protocol violation (a packet that cannot come next) returns an error and leaves the tracker
// failed: the connection's state is unknown and it must not be reused.
class ResponseTracker {
 public:
  // caps: the capabilities negotiated on the connection the response travels on.
  // cursor_requested: for kStmtExecute, the command's flags asked for a cursor
  // (StmtExecuteRequestsCursor). Only then does CURSOR_EXISTS in the metadata EOF end the
  // response: a procedure that opens a cursor of its own leaves the flag set on the results
  // of a CALL, whose rows follow all the same (and a real cursor result is never followed by
  // another, so MORE_RESULTS_EXIST with it means rows follow too).
  ResponseTracker(ResponseShape shape, Capabilities caps, bool cursor_requested = false);

  // Classifies the next server packet and advances. REQUIRES: !complete().
  Result<ServerPacketKind> OnServerPacket(ByteView payload);

  // No more server packets belong to this response.
  bool complete() const { return state_ == State::kComplete; }
  // A protocol violation was seen; the tracker accepts nothing more.
  bool failed() const { return state_ == State::kFailed; }
  // The last packet needs a client answer before the server sends more: a LOCAL INFILE
  // request (the client sends file packets and an empty packet), an auth switch or more data.
  bool awaiting_client() const { return awaiting_client_; }
  // The last OK/EOF had MORE_RESULTS_EXIST: another result follows.
  bool more_results() const { return more_results_; }
  // The status flags of the last OK or EOF seen (0 before any). After complete() this is the
  // final status, unless an ERR ended the response: ERR carries no status.
  std::uint16_t status_flags() const { return status_flags_; }
  // The warning count of the last OK or EOF seen (0 before any): after complete(), the
  // statement's warnings (what @@warning_count reads next), unless an ERR ended it.
  std::uint16_t warnings() const { return warnings_; }
  // The ERR that ended the response, if one did.
  bool ended_with_error() const { return error_.has_value(); }
  const std::optional<ErrPacket>& error() const { return error_; }
  // The PREPARE_OK of a kStmtPrepare response, once seen.
  const std::optional<StmtPrepareOk>& prepare_ok() const { return prepare_ok_; }
  // The final OK of the response (0x00 or 0xFE header), if it ended with one.
  const std::optional<OkPacket>& last_ok() const { return last_ok_; }

 private:
  enum class State {
    kFirst,              // Start of a result (query, execute).
    kColumnDefinitions,  // column_count / remaining_ definitions to go.
    kMetadataEof,        // EOF after the definitions (no DEPRECATE_EOF).
    kRows,               // Rows until a terminator.
    kLocalInfile,        // After a LOCAL INFILE request: OK or ERR.
    kFieldList,          // FIELD_LIST definitions until a terminator.
    kPrepareOk,          // Waiting for PREPARE_OK.
    kPrepareParameters,  // remaining_ parameter definitions to go.
    kPrepareParametersEof,
    kPrepareColumns,  // remaining_ column definitions to go.
    kPrepareColumnsEof,
    kSingleOk,        // One OK.
    kSingleEof,       // One EOF or OK.
    kStatistics,      // One string.
    kAuthentication,  // Auth exchange.
    kComplete,
    kFailed,
  };

  Result<ServerPacketKind> Step(ByteView payload);
  Error Fail(Error error);
  // After an OK or EOF that ends a result: another result, or the end.
  void EndResult(std::uint16_t status_flags);
  void AfterColumnDefinitions();
  void AfterParameterDefinitions();
  Result<ServerPacketKind> Terminator(ByteView payload);
  Status TakeOk(ByteView payload);
  Status TakeEof(ByteView payload);
  bool BinaryRows() const;

  ResponseShape shape_;
  Capabilities caps_;
  bool cursor_requested_ = false;
  State state_;
  std::uint64_t remaining_ = 0;
  bool awaiting_client_ = false;
  bool more_results_ = false;
  std::uint16_t status_flags_ = 0;
  std::uint16_t warnings_ = 0;
  std::optional<ErrPacket> error_;
  std::optional<StmtPrepareOk> prepare_ok_;
  std::optional<OkPacket> last_ok_;
};

}  // namespace longlink::protocol
