// Numbers of the MySQL/MariaDB client/server protocol: capability flags, status flags, commands,
// field types, error codes, session-track types. Data only; the prose lives in
// /work/shared/PROTOCOL.md. Values are from MariaDB's include/mysql_com.h and MySQL's
// include/mysql_com.h unless a comment says otherwise.
#pragma once

#include <cstdint>
#include <string_view>

namespace longlink::protocol {

// Capability flags: 32 bits in MySQL; MariaDB adds bits 32..63 (the "extended capabilities"),
// carried in otherwise reserved bytes of the greeting and of the client's handshake response.
using Capabilities = std::uint64_t;

namespace capability {
// Bit 0 is CLIENT_LONG_PASSWORD in MySQL and CLIENT_MYSQL in MariaDB: a MariaDB server clears it
// to say "my extended capabilities are in the greeting's reserved bytes".
inline constexpr Capabilities kClientMysql = 1ULL << 0;
inline constexpr Capabilities kFoundRows = 1ULL << 1;       // Affected rows = found, not changed.
inline constexpr Capabilities kLongFlag = 1ULL << 2;        // Wants all column flags.
inline constexpr Capabilities kConnectWithDb = 1ULL << 3;   // Handshake response names a schema.
inline constexpr Capabilities kNoSchema = 1ULL << 4;        // Forbids db.table.column.
inline constexpr Capabilities kCompress = 1ULL << 5;        // Compressed protocol.
inline constexpr Capabilities kOdbc = 1ULL << 6;            // Legacy ODBC client; no effect.
inline constexpr Capabilities kLocalFiles = 1ULL << 7;      // Allows LOAD DATA LOCAL INFILE.
inline constexpr Capabilities kIgnoreSpace = 1ULL << 8;     // Parser ignores spaces before '('.
inline constexpr Capabilities kProtocol41 = 1ULL << 9;      // 4.1 protocol: status, SQLSTATE.
inline constexpr Capabilities kInteractive = 1ULL << 10;    // interactive_timeout applies.
inline constexpr Capabilities kSsl = 1ULL << 11;            // Switch to TLS after SSLRequest.
inline constexpr Capabilities kIgnoreSigpipe = 1ULL << 12;  // Client-side only; never on wire.
inline constexpr Capabilities kTransactions = 1ULL << 13;   // Status flags in OK (pre-4.1).
inline constexpr Capabilities kReserved = 1ULL << 14;       // Old 4.1 protocol flag; unused.
inline constexpr Capabilities kSecureConnection = 1ULL << 15;  // 4.1 auth: length-prefixed.
inline constexpr Capabilities kMultiStatements = 1ULL << 16;   // Many statements per COM_QUERY.
inline constexpr Capabilities kMultiResults = 1ULL << 17;      // Many result sets per query.
inline constexpr Capabilities kPsMultiResults = 1ULL << 18;    // Many results per EXECUTE.
inline constexpr Capabilities kPluginAuth = 1ULL << 19;        // Auth plugin names exchanged.
inline constexpr Capabilities kConnectAttrs = 1ULL << 20;      // Handshake carries attributes.
inline constexpr Capabilities kPluginAuthLenencClientData = 1ULL << 21;  // Lenenc auth data.
inline constexpr Capabilities kCanHandleExpiredPasswords = 1ULL << 22;   // Sandbox mode ok.
inline constexpr Capabilities kSessionTrack = 1ULL << 23;  // OK carries session-state changes.
inline constexpr Capabilities kDeprecateEof = 1ULL << 24;  // OK (0xFE header) replaces EOF.
inline constexpr Capabilities kOptionalResultsetMetadata = 1ULL << 25;  // MySQL 8 only.
inline constexpr Capabilities kZstdCompression = 1ULL << 26;            // MySQL 8 only.
inline constexpr Capabilities kQueryAttributes = 1ULL << 27;  // MySQL 8 only; not in MariaDB.
inline constexpr Capabilities kMultiFactorAuthentication = 1ULL << 28;  // MySQL 8 only.
inline constexpr Capabilities kCapabilityExtension = 1ULL << 29;        // MySQL; MariaDB: obsolete.
inline constexpr Capabilities kSslVerifyServerCert = 1ULL << 30;        // Client-side only.
inline constexpr Capabilities kRememberOptions = 1ULL << 31;            // Client-side only.

// MariaDB extended capabilities (bits 32..63).
inline constexpr Capabilities kMariadbExtendedMask = 0xFFFFFFFF00000000ULL;  // Bits 32..63.
inline constexpr Capabilities kMariadbProgress = 1ULL << 32;   // 0xFF 0xFFFF progress packets.
inline constexpr Capabilities kMariadbReserved1 = 1ULL << 33;  // Former COM_MULTI; removed.
inline constexpr Capabilities kMariadbStmtBulkOperations = 1ULL << 34;  // COM_STMT_BULK_EXECUTE.
inline constexpr Capabilities kMariadbExtendedMetadata = 1ULL << 35;    // Type/format in col defs.
inline constexpr Capabilities kMariadbCacheMetadata = 1ULL << 36;       // "Metadata follows" byte.
}  // namespace capability

// Server status flags, sent in OK and EOF packets and in the greeting.
namespace status {
inline constexpr std::uint16_t kInTrans = 0x0001;              // A transaction is open.
inline constexpr std::uint16_t kAutocommit = 0x0002;           // autocommit is on.
inline constexpr std::uint16_t kMoreResultsExist = 0x0008;     // Another result follows.
inline constexpr std::uint16_t kNoGoodIndexUsed = 0x0010;      // Optimizer hint.
inline constexpr std::uint16_t kNoIndexUsed = 0x0020;          // Optimizer hint.
inline constexpr std::uint16_t kCursorExists = 0x0040;         // EXECUTE opened a cursor.
inline constexpr std::uint16_t kLastRowSent = 0x0080;          // FETCH exhausted the cursor.
inline constexpr std::uint16_t kDbDropped = 0x0100;            // A schema was dropped.
inline constexpr std::uint16_t kNoBackslashEscapes = 0x0200;   // sql_mode NO_BACKSLASH_ESCAPES.
inline constexpr std::uint16_t kMetadataChanged = 0x0400;      // Re-prepare changed columns.
inline constexpr std::uint16_t kQueryWasSlow = 0x0800;         // Logged as slow.
inline constexpr std::uint16_t kPsOutParams = 0x1000;          // Result holds OUT parameters.
inline constexpr std::uint16_t kInTransReadonly = 0x2000;      // Open transaction is read-only.
inline constexpr std::uint16_t kSessionStateChanged = 0x4000;  // OK carries state changes.
inline constexpr std::uint16_t kAnsiQuotes = 0x8000;           // MariaDB: sql_mode ANSI_QUOTES.
}  // namespace status

// The first byte of a command packet (client to server).
enum class Command : std::uint8_t {
  kSleep = 0x00,             // Internal; the server answers ERR.
  kQuit = 0x01,              // Close the connection; no reply.
  kInitDb = 0x02,            // Change default schema; OK or ERR.
  kQuery = 0x03,             // Text query; OK, ERR, result sets, or LOCAL INFILE request.
  kFieldList = 0x04,         // Column definitions of a table, then EOF.
  kCreateDb = 0x05,          // Deprecated.
  kDropDb = 0x06,            // Deprecated.
  kRefresh = 0x07,           // FLUSH-like; OK or ERR.
  kShutdown = 0x08,          // Shut the server down; EOF/OK or ERR.
  kStatistics = 0x09,        // One human-readable string packet.
  kProcessInfo = 0x0a,       // Deprecated SHOW PROCESSLIST; a result set.
  kConnect = 0x0b,           // Internal; ERR.
  kProcessKill = 0x0c,       // Deprecated KILL; OK or ERR.
  kDebug = 0x0d,             // Dump debug info to the error log; EOF or ERR.
  kPing = 0x0e,              // OK.
  kTime = 0x0f,              // Internal; ERR.
  kDelayedInsert = 0x10,     // Internal; ERR.
  kChangeUser = 0x11,        // Re-authenticate and reset the session.
  kBinlogDump = 0x12,        // Replication stream.
  kTableDump = 0x13,         // Obsolete.
  kConnectOut = 0x14,        // Internal.
  kRegisterSlave = 0x15,     // Replication; OK or ERR.
  kStmtPrepare = 0x16,       // Prepare; PREPARE_OK plus definitions, or ERR.
  kStmtExecute = 0x17,       // Execute; OK, ERR, or binary result sets.
  kStmtSendLongData = 0x18,  // Parameter data; no reply.
  kStmtClose = 0x19,         // Deallocate; no reply.
  kStmtReset = 0x1a,         // Reset long data and cursor; OK or ERR.
  kSetOption = 0x1b,         // Multi-statements on/off; EOF or ERR.
  kStmtFetch = 0x1c,         // Rows from a cursor.
  kDaemon = 0x1d,            // Internal; ERR.
  kBinlogDumpGtid = 0x1e,    // MySQL replication; unimplemented in MariaDB.
  kResetConnection = 0x1f,   // Reset session state (MariaDB >= 10.2.4); OK or ERR.
  kStmtBulkExecute = 0xfa,   // MariaDB array binding; like kStmtExecute.
};

// Column types, as sent in column definitions and COM_STMT_EXECUTE parameter types.
enum class FieldType : std::uint8_t {
  kDecimal = 0,       // Old DECIMAL; text.
  kTiny = 1,          // TINYINT; binary: 1 byte.
  kShort = 2,         // SMALLINT; binary: 2 bytes.
  kLong = 3,          // INT; binary: 4 bytes.
  kFloat = 4,         // FLOAT; binary: 4 bytes.
  kDouble = 5,        // DOUBLE; binary: 8 bytes.
  kNull = 6,          // NULL literal.
  kTimestamp = 7,     // TIMESTAMP.
  kLongLong = 8,      // BIGINT; binary: 8 bytes.
  kInt24 = 9,         // MEDIUMINT; binary: 4 bytes.
  kDate = 10,         // DATE.
  kTime = 11,         // TIME.
  kDateTime = 12,     // DATETIME.
  kYear = 13,         // YEAR; binary: 2 bytes.
  kNewDate = 14,      // Internal.
  kVarchar = 15,      // VARCHAR (internal; sent as kVarString).
  kBit = 16,          // BIT.
  kTimestamp2 = 17,   // Internal (replication).
  kDateTime2 = 18,    // Internal (replication).
  kTime2 = 19,        // Internal (replication).
  kJson = 245,        // MySQL JSON (MariaDB sends JSON as a blob).
  kNewDecimal = 246,  // DECIMAL; text.
  kEnum = 247,        // ENUM.
  kSet = 248,         // SET.
  kTinyBlob = 249,    // TINYBLOB/TINYTEXT.
  kMediumBlob = 250,  // MEDIUMBLOB/MEDIUMTEXT.
  kLongBlob = 251,    // LONGBLOB/LONGTEXT.
  kBlob = 252,        // BLOB/TEXT.
  kVarString = 253,   // VARCHAR/VARBINARY.
  kString = 254,      // CHAR/BINARY.
  kGeometry = 255,    // Spatial types.
};

// Types of session-state change entries in an OK packet (SESSION_TRACK).
enum class SessionTrackType : std::uint8_t {
  kSystemVariables = 0,             // Name/value of a changed session variable.
  kSchema = 1,                      // New default schema.
  kStateChange = 2,                 // "1": state that a pooler must not discard changed.
  kGtids = 3,                       // MySQL GTIDs; MariaDB never sends it.
  kTransactionCharacteristics = 4,  // SQL that recreates the transaction's characteristics.
  kTransactionState = 5,            // 8 characters: T/I r R w W s S L, '_' when unset.
};

// First bytes that identify a packet's type.
namespace header {
inline constexpr std::uint8_t kOk = 0x00;            // OK; also PREPARE_OK and binary rows.
inline constexpr std::uint8_t kAuthMoreData = 0x01;  // Auth plugin round trip.
inline constexpr std::uint8_t kHandshakeV10 = 0x0a;  // Protocol version 10 greeting.
inline constexpr std::uint8_t kLocalInfile = 0xfb;   // LOCAL INFILE request; NULL in rows.
inline constexpr std::uint8_t kEof = 0xfe;           // EOF, OK-as-EOF, or auth switch.
inline constexpr std::uint8_t kErr = 0xff;           // ERR, or a MariaDB progress report.
}  // namespace header

// Collation ids a proxy commonly needs (the full list is the server's SHOW COLLATION).
namespace collation {
inline constexpr std::uint8_t kLatin1SwedishCi = 8;    // latin1 default.
inline constexpr std::uint8_t kUtf8GeneralCi = 33;     // utf8mb3 default.
inline constexpr std::uint8_t kUtf8mb4GeneralCi = 45;  // utf8mb4 default in MariaDB 10.x.
inline constexpr std::uint8_t kBinary = 63;            // binary.
}  // namespace collation

// Authentication plugin names.
namespace auth_plugin {
inline constexpr std::string_view kNativePassword = "mysql_native_password";  // SHA1 scramble.
inline constexpr std::string_view kOldPassword = "mysql_old_password";        // Pre-4.1; refused.
inline constexpr std::string_view kClearPassword = "mysql_clear_password";    // Plaintext.
inline constexpr std::string_view kCachingSha2Password = "caching_sha2_password";  // MySQL 8.
inline constexpr std::string_view kEd25519 = "client_ed25519";  // MariaDB ed25519.
inline constexpr std::string_view kParsec = "parsec";           // MariaDB >= 11.6.
}  // namespace auth_plugin

// A server error number with the SQLSTATE the server pairs with it.
struct ServerError {
  std::uint16_t code;
  std::string_view sql_state;  // Five characters.
};

// Server errors a proxy sends or must recognise. Never put 2000-2999 or 5000-5999 (client
// error numbers) in an ERR packet: libmariadb turns those into "malformed packet".
namespace server_error {
inline constexpr ServerError kConCountError{1040, "08004"};           // Too many connections.
inline constexpr ServerError kOutOfResources{1041, "HY000"};          // Out of memory.
inline constexpr ServerError kBadHostError{1042, "08S01"};            // Can't resolve host.
inline constexpr ServerError kHandshakeError{1043, "08S01"};          // Bad handshake.
inline constexpr ServerError kDbAccessDenied{1044, "42000"};          // No access to schema.
inline constexpr ServerError kAccessDenied{1045, "28000"};            // Wrong user or password.
inline constexpr ServerError kNoDbError{1046, "3D000"};               // No schema selected.
inline constexpr ServerError kUnknownComError{1047, "08S01"};         // Unknown command.
inline constexpr ServerError kBadDbError{1049, "42000"};              // Unknown schema.
inline constexpr ServerError kServerShutdown{1053, "08S01"};          // Shutdown in progress.
inline constexpr ServerError kParseError{1064, "42000"};              // SQL syntax error.
inline constexpr ServerError kNoSuchThread{1094, "HY000"};            // KILL: unknown thread id.
inline constexpr ServerError kKillDenied{1095, "HY000"};              // KILL: not the owner.
inline constexpr ServerError kUnknownError{1105, "HY000"};            // Unknown error.
inline constexpr ServerError kNotAllowedCommand{1148, "42000"};       // LOCAL INFILE refused.
inline constexpr ServerError kNetPacketTooLarge{1153, "08S01"};       // > max_allowed_packet.
inline constexpr ServerError kNetReadErrorFromPipe{1154, "08S01"};    // Read error.
inline constexpr ServerError kNetFcntlError{1155, "08S01"};           // fcntl failed.
inline constexpr ServerError kNetPacketsOutOfOrder{1156, "08S01"};    // Bad sequence id.
inline constexpr ServerError kNetUncompressError{1157, "08S01"};      // Bad compressed packet.
inline constexpr ServerError kNetReadError{1158, "08S01"};            // Read failed.
inline constexpr ServerError kNetReadInterrupted{1159, "08S01"};      // Read timed out.
inline constexpr ServerError kNetErrorOnWrite{1160, "08S01"};         // Write failed.
inline constexpr ServerError kNetWriteInterrupted{1161, "08S01"};     // Write timed out.
inline constexpr ServerError kTooManyUserConnections{1203, "42000"};  // Per-user limit.
inline constexpr ServerError kUserLimitReached{1226, "42000"};        // max_user_connections.
inline constexpr ServerError kNotSupportedYet{1235, "42000"};         // Feature not supported.
inline constexpr ServerError kWrongArguments{1210, "HY000"};          // Incorrect arguments.
inline constexpr ServerError kUnknownStmtHandler{1243, "HY000"};      // Unknown statement id.
inline constexpr ServerError kUnsupportedPs{1295, "HY000"};           // Not in the PS protocol.
inline constexpr ServerError kStmtHasNoOpenCursor{1421, "HY000"};     // FETCH without a cursor.
inline constexpr ServerError kMaxPreparedStmtCount{1461, "42000"};    // max_prepared_stmt_count.
inline constexpr ServerError kNotSupportedAuthMode{1251, "08004"};    // Auth plugin refused.
inline constexpr ServerError kQueryInterrupted{1317, "70100"};        // KILL QUERY.
inline constexpr ServerError kAccessDeniedNoPassword{1698, "28000"};  // No password given.
inline constexpr ServerError kMalformedPacket{1835, "HY000"};         // Malformed packet.
// SQLSTATE 70100 is unverified (PROTOCOL.md marks it "verify"): check against MariaDB 10.11.
inline constexpr ServerError kConnectionKilled{1927, "70100"};  // Connection was killed.
inline constexpr ServerError kNoSuchQuery{1957, "HY000"};       // KILL QUERY ID: unknown id.
inline constexpr ServerError kAccountLocked{4151, "HY000"};     // ACCOUNT LOCK.
}  // namespace server_error

// The error code of a MariaDB progress report (0xFF 0xFFFF ...), which is not an error.
inline constexpr std::uint16_t kProgressReportErrorCode = 0xffff;

}  // namespace longlink::protocol
