#include "protocol/response.h"

#include <gtest/gtest.h>

#include <random>

#include "codec_test_util.h"
#include "protocol/frame.h"
#include "protocol/handshake.h"

namespace longlink::protocol {
namespace {

using testing::Concat;
using testing::Hex;
using testing::Str;

namespace cap = capability;
using Kind = ServerPacketKind;

constexpr Capabilities k41 = cap::kProtocol41 | cap::kSessionTrack;
constexpr Capabilities kNoEof = k41 | cap::kDeprecateEof;
constexpr std::uint16_t kAuto = status::kAutocommit;

Bytes Ok(std::uint16_t status_flags, Capabilities caps = k41) {
  return Encode(OkPacket{.affected_rows = 1, .status_flags = status_flags}, caps);
}
Bytes OkAsEof(std::uint16_t status_flags, Capabilities caps = kNoEof) {
  return Encode(OkPacket{.header = OkPacket::Header::kEof, .status_flags = status_flags}, caps);
}
Bytes Eof(std::uint16_t status_flags) {
  return Encode(EofPacket{.status_flags = status_flags}, k41);
}
Bytes Err(std::uint16_t code = 1064) {
  return Encode(ErrPacket{.code = code, .sql_state = "42000", .message = "syntax"}, k41);
}
Bytes Count(std::uint64_t count) { return Encode(ColumnCount{.count = count}, k41); }
// A column definition as MariaDB sends it: "def", schema, table, org table, name, org name,
// 0x0c, charset, length, type, flags, decimals, filler.
Bytes ColumnDef(std::string_view name) {
  Bytes out;
  Writer writer(&out);
  writer.WriteLenencString("def");
  writer.WriteLenencString("shop");
  writer.WriteLenencString("t");
  writer.WriteLenencString("t");
  writer.WriteLenencString(name);
  writer.WriteLenencString(name);
  writer.WriteU8(0x0c);
  writer.WriteU16(45);
  writer.WriteU32(11);
  writer.WriteU8(static_cast<std::uint8_t>(FieldType::kLong));
  writer.WriteU16(0);
  writer.WriteU8(0);
  writer.WriteU16(0);
  return out;
}
Bytes TextRow(std::string_view value) {
  Bytes out;
  Writer(&out).WriteLenencString(value);
  return out;
}
const Bytes kNullRow = Hex("fb 01 31");        // NULL, "1": starts like a LOCAL INFILE request.
const Bytes kEmptyFirstRow = Hex("00 01 31");  // "", "1": starts like an OK.
const Bytes kBinaryRow = Hex("00 00 2a 00 00 00");  // Binary row: header, null bitmap, int 42.

struct Step {
  Bytes payload;
  Kind kind;
  bool complete = false;         // complete() after this packet
  bool awaiting_client = false;  // awaiting_client() after this packet
  bool more_results = false;     // more_results() after this packet
};

struct Scenario {
  std::string name;
  ResponseShape shape;
  Capabilities caps;
  std::vector<Step> steps;
  std::uint16_t final_status = 0;
  bool ended_with_error = false;
  bool cursor_requested = false;  // The EXECUTE asked for a cursor.
};

void RunScenario(const Scenario& scenario) {
  SCOPED_TRACE(scenario.name);
  ResponseTracker tracker(scenario.shape, scenario.caps, scenario.cursor_requested);
  for (std::size_t i = 0; i < scenario.steps.size(); ++i) {
    SCOPED_TRACE("packet " + std::to_string(i));
    const Step& step = scenario.steps[i];
    ASSERT_FALSE(tracker.complete());
    auto kind = tracker.OnServerPacket(step.payload);
    ASSERT_TRUE(kind.ok()) << kind.error().message;
    EXPECT_EQ(*kind, step.kind);
    EXPECT_EQ(tracker.complete(), step.complete);
    EXPECT_EQ(tracker.awaiting_client(), step.awaiting_client);
    EXPECT_EQ(tracker.more_results(), step.more_results);
  }
  EXPECT_TRUE(tracker.complete());
  EXPECT_FALSE(tracker.failed());
  EXPECT_EQ(tracker.status_flags(), scenario.final_status);
  EXPECT_EQ(tracker.ended_with_error(), scenario.ended_with_error);
  // Nothing more belongs to a complete response.
  EXPECT_FALSE(tracker.OnServerPacket(Ok(kAuto)).ok());
  EXPECT_TRUE(tracker.failed());
}

TEST(ProtocolResponseTest, TextQueries) {
  const std::uint16_t kMore = status::kMoreResultsExist;
  const std::vector<Scenario> scenarios = {
      {.name = "INSERT: one OK",
       .shape = ResponseShape::kQuery,
       .caps = k41,
       .steps = {{Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "syntax error",
       .shape = ResponseShape::kQuery,
       .caps = k41,
       .steps = {{Err(), Kind::kErr, true}},
       .ended_with_error = true},
      {.name = "result set with EOFs; rows that start with 0xFB and 0x00",
       .shape = ResponseShape::kQuery,
       .caps = k41,
       .steps = {{Count(2), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {ColumnDef("b"), Kind::kColumnDefinition},
                 {Eof(kAuto), Kind::kEof},
                 {kNullRow, Kind::kRow},
                 {kEmptyFirstRow, Kind::kRow},
                 {Eof(kAuto | status::kNoIndexUsed), Kind::kEof, true}},
       .final_status = kAuto | status::kNoIndexUsed},
      {.name = "result set under DEPRECATE_EOF",
       .shape = ResponseShape::kQuery,
       .caps = kNoEof,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {kEmptyFirstRow, Kind::kRow},
                 {TextRow("x"), Kind::kRow},
                 {OkAsEof(kAuto), Kind::kOkAsEof, true}},
       .final_status = kAuto},
      {.name = "empty result set",
       .shape = ResponseShape::kQuery,
       .caps = k41,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {Eof(kAuto), Kind::kEof},
                 {Eof(kAuto), Kind::kEof, true}},
       .final_status = kAuto},
      {.name = "CALL: two result sets, then the final OK",
       .shape = ResponseShape::kQuery,
       .caps = k41,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {Eof(kAuto | kMore), Kind::kEof},
                 {TextRow("1"), Kind::kRow},
                 {Eof(kAuto | kMore), Kind::kEof, false, false, true},
                 {Count(1), Kind::kColumnCount},
                 {ColumnDef("b"), Kind::kColumnDefinition},
                 {Eof(kAuto | kMore), Kind::kEof},
                 {Eof(kAuto | kMore), Kind::kEof, false, false, true},
                 {Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "multi-statement under DEPRECATE_EOF: OK, result set, OK",
       .shape = ResponseShape::kQuery,
       .caps = kNoEof,
       .steps = {{Ok(kAuto | kMore, kNoEof), Kind::kOk, false, false, true},
                 {Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {TextRow("1"), Kind::kRow},
                 {OkAsEof(kAuto | kMore), Kind::kOkAsEof, false, false, true},
                 {Ok(status::kInTrans, kNoEof), Kind::kOk, true}},
       .final_status = status::kInTrans},
      {.name = "multi-statement stopped by an ERR",
       .shape = ResponseShape::kQuery,
       .caps = k41,
       .steps = {{Ok(kAuto | kMore), Kind::kOk, false, false, true}, {Err(), Kind::kErr, true}},
       .final_status = kAuto | kMore,
       .ended_with_error = true},
      {.name = "KILL QUERY in the middle of the rows",
       .shape = ResponseShape::kQuery,
       .caps = k41,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {Eof(kAuto), Kind::kEof},
                 {TextRow("1"), Kind::kRow},
                 {Err(1317), Kind::kErr, true}},
       .final_status = kAuto,
       .ended_with_error = true},
      {.name = "LOAD DATA LOCAL INFILE",
       .shape = ResponseShape::kQuery,
       .caps = k41 | cap::kLocalFiles,
       .steps = {{Encode(LocalInfileRequest{.filename = "/tmp/x.csv"}, k41),
                  Kind::kLocalInfileRequest, false, true},
                 {Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "prepared LOAD DATA LOCAL INFILE",
       .shape = ResponseShape::kStmtExecute,
       .caps = k41 | cap::kLocalFiles,
       .steps = {{Encode(LocalInfileRequest{.filename = "/tmp/x.csv"}, k41),
                  Kind::kLocalInfileRequest, false, true},
                 {Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "LOAD DATA LOCAL INFILE refused after the data",
       .shape = ResponseShape::kQuery,
       .caps = k41 | cap::kLocalFiles,
       .steps = {{Encode(LocalInfileRequest{.filename = "x"}, k41), Kind::kLocalInfileRequest,
                  false, true},
                 {Err(1148), Kind::kErr, true}},
       .ended_with_error = true},
      {.name = "ALTER TABLE with MariaDB progress reports",
       .shape = ResponseShape::kQuery,
       .caps = k41 | cap::kMariadbProgress,
       .steps = {{Hex("ff ff ff 01 01 02 50 c3 00 04 63 6f 70 79"), Kind::kProgressReport},
                 {Hex("ff ff ff 01 02 02 a0 86 01 00"), Kind::kProgressReport},
                 {Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "cached metadata: no column definitions follow",
       .shape = ResponseShape::kQuery,
       .caps = kNoEof | cap::kMariadbCacheMetadata,
       .steps = {{Hex("02 00"), Kind::kColumnCount},
                 {TextRow("1"), Kind::kRow},
                 {OkAsEof(kAuto), Kind::kOkAsEof, true}},
       .final_status = kAuto},
  };
  for (const Scenario& scenario : scenarios) RunScenario(scenario);
}

TEST(ProtocolResponseTest, The0xFERuleSeparatesRowsFromTerminators) {
  // A text row whose first column is longer than 2^24 starts with 0xFE (8-byte length).
  // Without DEPRECATE_EOF only a packet shorter than 9 bytes is an EOF.
  const Bytes nine = Hex("fe 00 00 00 01 00 00 00 00");
  EXPECT_FALSE(IsResultSetTerminator(nine, k41));
  EXPECT_TRUE(IsResultSetTerminator(Eof(0), k41));
  // With DEPRECATE_EOF the OK terminator may be longer (info, session state), so the test is
  // "shorter than 0xFFFFFF": such a row always fills a whole first chunk.
  const Bytes long_ok =
      Encode(OkPacket{.header = OkPacket::Header::kEof, .info = std::string(100, 'i')}, kNoEof);
  EXPECT_TRUE(IsResultSetTerminator(long_ok, kNoEof));
  Bytes first_chunk(kMaxChunkPayload, 'z');
  first_chunk[0] = 0xfe;
  EXPECT_FALSE(IsResultSetTerminator(first_chunk, kNoEof));
  EXPECT_FALSE(IsResultSetTerminator(kEmptyFirstRow, kNoEof));
  EXPECT_FALSE(IsResultSetTerminator(ByteView(), kNoEof));

  RunScenario({.name = "rows starting with 0xFE",
               .shape = ResponseShape::kQuery,
               .caps = k41,
               .steps = {{Count(1), Kind::kColumnCount},
                         {ColumnDef("a"), Kind::kColumnDefinition},
                         {Eof(kAuto), Kind::kEof},
                         {nine, Kind::kRow},
                         {Eof(kAuto), Kind::kEof, true}},
               .final_status = kAuto});
  RunScenario({.name = "a 0xFE first chunk under DEPRECATE_EOF",
               .shape = ResponseShape::kQuery,
               .caps = kNoEof,
               .steps = {{Count(1), Kind::kColumnCount},
                         {ColumnDef("a"), Kind::kColumnDefinition},
                         {first_chunk, Kind::kRow},
                         {OkAsEof(kAuto), Kind::kOkAsEof, true}},
               .final_status = kAuto});
}

TEST(ProtocolResponseTest, FieldListAndSingles) {
  const std::vector<Scenario> scenarios = {
      {.name = "FIELD_LIST",
       .shape = ResponseShape::kFieldList,
       .caps = k41,
       .steps = {{ColumnDef("a"), Kind::kColumnDefinition},
                 {ColumnDef("b"), Kind::kColumnDefinition},
                 {Eof(kAuto), Kind::kEof, true}},
       .final_status = kAuto},
      {.name = "FIELD_LIST under DEPRECATE_EOF",
       .shape = ResponseShape::kFieldList,
       .caps = kNoEof,
       .steps = {{ColumnDef("a"), Kind::kColumnDefinition}, {OkAsEof(kAuto), Kind::kOkAsEof, true}},
       .final_status = kAuto},
      {.name = "FIELD_LIST of an unknown table",
       .shape = ResponseShape::kFieldList,
       .caps = k41,
       .steps = {{Err(1146), Kind::kErr, true}},
       .ended_with_error = true},
      {.name = "PING",
       .shape = ResponseShape::kOkOrErr,
       .caps = k41,
       .steps = {{Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "INIT_DB of an unknown schema",
       .shape = ResponseShape::kOkOrErr,
       .caps = k41,
       .steps = {{Err(1049), Kind::kErr, true}},
       .ended_with_error = true},
      {.name = "SET_OPTION: EOF",
       .shape = ResponseShape::kEofOrErr,
       .caps = k41,
       .steps = {{Eof(kAuto), Kind::kEof, true}},
       .final_status = kAuto},
      {.name = "SET_OPTION under DEPRECATE_EOF: OK with a 0xFE header",
       .shape = ResponseShape::kEofOrErr,
       .caps = kNoEof,
       .steps = {{OkAsEof(kAuto), Kind::kOkAsEof, true}},
       .final_status = kAuto},
      {.name = "SHUTDOWN answered with OK (MySQL 8)",
       .shape = ResponseShape::kEofOrErr,
       .caps = k41,
       .steps = {{Ok(0), Kind::kOk, true}}},
      {.name = "STATISTICS",
       .shape = ResponseShape::kStatistics,
       .caps = k41,
       .steps = {{Str("Uptime: 5  Threads: 1  Questions: 2"), Kind::kStatistics, true}}},
      {.name = "CHANGE_USER with an auth switch",
       .shape = ResponseShape::kAuthentication,
       .caps = k41,
       .steps = {{Encode(AuthSwitchRequest{.plugin_name = "mysql_native_password",
                                           .plugin_data = std::string(20, 'a') + '\0'}),
                  Kind::kAuthSwitchRequest, false, true},
                 {Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "authentication with plugin round trips (0x01 and MariaDB's raw data)",
       .shape = ResponseShape::kAuthentication,
       .caps = k41,
       .steps = {{Hex("01 04"), Kind::kAuthMoreData, false, true},
                 {Hex("50 10 00"), Kind::kAuthMoreData, false, true},
                 {Err(1045), Kind::kErr, true}},
       .ended_with_error = true},
  };
  for (const Scenario& scenario : scenarios) RunScenario(scenario);

  ResponseTracker none(ResponseShape::kNone, k41);
  EXPECT_TRUE(none.complete());
  EXPECT_FALSE(none.OnServerPacket(Ok(0)).ok());
}

TEST(ProtocolResponseTest, PreparedStatements) {
  const Bytes prepare_ok =
      Encode(StmtPrepareOk{.statement_id = 7, .column_count = 1, .parameter_count = 2}, k41);
  const std::vector<Scenario> scenarios = {
      {.name = "PREPARE: parameters and columns, with EOFs",
       .shape = ResponseShape::kStmtPrepare,
       .caps = k41,
       .steps = {{prepare_ok, Kind::kStmtPrepareOk},
                 {ColumnDef("?"), Kind::kParameterDefinition},
                 {ColumnDef("?"), Kind::kParameterDefinition},
                 {Eof(kAuto), Kind::kEof},
                 {ColumnDef("col1"), Kind::kColumnDefinition},
                 {Eof(kAuto), Kind::kEof, true}},
       .final_status = kAuto},
      {.name = "PREPARE under DEPRECATE_EOF",
       .shape = ResponseShape::kStmtPrepare,
       .caps = kNoEof,
       .steps = {{prepare_ok, Kind::kStmtPrepareOk},
                 {ColumnDef("?"), Kind::kParameterDefinition},
                 {ColumnDef("?"), Kind::kParameterDefinition},
                 {ColumnDef("col1"), Kind::kColumnDefinition, true}}},
      {.name = "PREPARE of a statement without parameters or columns",
       .shape = ResponseShape::kStmtPrepare,
       .caps = k41,
       .steps = {{Encode(StmtPrepareOk{.statement_id = 1}, k41), Kind::kStmtPrepareOk, true}}},
      {.name = "PREPARE with parameters only",
       .shape = ResponseShape::kStmtPrepare,
       .caps = k41,
       .steps = {{Encode(StmtPrepareOk{.statement_id = 1, .parameter_count = 1}, k41),
                  Kind::kStmtPrepareOk},
                 {ColumnDef("?"), Kind::kParameterDefinition},
                 {Eof(kAuto), Kind::kEof, true}},
       .final_status = kAuto},
      {.name = "PREPARE with parameters only under DEPRECATE_EOF",
       .shape = ResponseShape::kStmtPrepare,
       .caps = kNoEof,
       .steps = {{Encode(StmtPrepareOk{.statement_id = 1, .parameter_count = 1}, k41),
                  Kind::kStmtPrepareOk},
                 {ColumnDef("?"), Kind::kParameterDefinition, true}}},
      {.name = "PREPARE error",
       .shape = ResponseShape::kStmtPrepare,
       .caps = k41,
       .steps = {{Err(), Kind::kErr, true}},
       .ended_with_error = true},
      {.name = "EXECUTE: binary result set",
       .shape = ResponseShape::kStmtExecute,
       .caps = k41,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {Eof(kAuto), Kind::kEof},
                 {kBinaryRow, Kind::kRow},
                 {kBinaryRow, Kind::kRow},
                 {Eof(kAuto), Kind::kEof, true}},
       .final_status = kAuto},
      {.name = "EXECUTE: binary result set under DEPRECATE_EOF",
       .shape = ResponseShape::kStmtExecute,
       .caps = kNoEof,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {kBinaryRow, Kind::kRow},
                 {OkAsEof(kAuto), Kind::kOkAsEof, true}},
       .final_status = kAuto},
      {.name = "EXECUTE of an UPDATE",
       .shape = ResponseShape::kStmtExecute,
       .caps = k41,
       .steps = {{Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "EXECUTE of CALL: result set, OUT parameters, OK",
       .shape = ResponseShape::kStmtExecute,
       .caps = k41 | cap::kPsMultiResults,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {Eof(kAuto | status::kMoreResultsExist), Kind::kEof},
                 {kBinaryRow, Kind::kRow},
                 {Eof(kAuto | status::kMoreResultsExist), Kind::kEof, false, false, true},
                 {Count(1), Kind::kColumnCount},
                 {ColumnDef("out"), Kind::kColumnDefinition},
                 {Eof(kAuto | status::kPsOutParams | status::kMoreResultsExist), Kind::kEof},
                 {kBinaryRow, Kind::kRow},
                 {Eof(kAuto | status::kPsOutParams | status::kMoreResultsExist), Kind::kEof, false,
                  false, true},
                 {Ok(kAuto), Kind::kOk, true}},
       .final_status = kAuto},
      {.name = "EXECUTE opening a cursor: no rows until FETCH",
       .shape = ResponseShape::kStmtExecute,
       .caps = k41,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {Eof(kAuto | status::kCursorExists), Kind::kEof, true}},
       .final_status = kAuto | status::kCursorExists,
       .cursor_requested = true},
      {.name = "EXECUTE opening a cursor under DEPRECATE_EOF",
       .shape = ResponseShape::kStmtExecute,
       .caps = kNoEof,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("a"), Kind::kColumnDefinition},
                 {OkAsEof(kAuto | status::kCursorExists), Kind::kOkAsEof, true}},
       .final_status = kAuto | status::kCursorExists,
       .cursor_requested = true},
      // Recorded from MariaDB 10.11: CALL of a procedure that opens a cursor of its own
      // (DECLARE c CURSOR; OPEN; FETCH; CLOSE; SELECT v), executed without a cursor: the
      // metadata EOF carries CURSOR_EXISTS (0x6a), yet the rows follow.
      {.name = "EXECUTE of CALL whose procedure used a cursor",
       .shape = ResponseShape::kStmtExecute,
       .caps = k41 | cap::kPsMultiResults,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("v"), Kind::kColumnDefinition},
                 {Hex("fe 00 00 6a 00"), Kind::kEof},
                 {kBinaryRow, Kind::kRow},
                 {Hex("fe 00 00 6a 00"), Kind::kEof, false, false, true},
                 {Hex("00 00 00 22 00 00 00"), Kind::kOk, true}},
       .final_status = 0x22},
      // A cursor asked for on a CALL: a real cursor result is never one of several, so
      // MORE_RESULTS with CURSOR_EXISTS still means the rows follow.
      {.name = "EXECUTE of CALL asking for a cursor",
       .shape = ResponseShape::kStmtExecute,
       .caps = k41 | cap::kPsMultiResults,
       .steps = {{Count(1), Kind::kColumnCount},
                 {ColumnDef("v"), Kind::kColumnDefinition},
                 {Hex("fe 00 00 6a 00"), Kind::kEof},
                 {kBinaryRow, Kind::kRow},
                 {Hex("fe 00 00 6a 00"), Kind::kEof, false, false, true},
                 {Hex("00 00 00 22 00 00 00"), Kind::kOk, true}},
       .final_status = 0x22,
       .cursor_requested = true},
      {.name = "FETCH: rows, cursor still open",
       .shape = ResponseShape::kStmtFetch,
       .caps = k41,
       .steps = {{kBinaryRow, Kind::kRow},
                 {kBinaryRow, Kind::kRow},
                 {Eof(kAuto | status::kCursorExists), Kind::kEof, true}},
       .final_status = kAuto | status::kCursorExists},
      {.name = "FETCH: last rows",
       .shape = ResponseShape::kStmtFetch,
       .caps = kNoEof,
       .steps = {{kBinaryRow, Kind::kRow},
                 {OkAsEof(kAuto | status::kLastRowSent), Kind::kOkAsEof, true}},
       .final_status = kAuto | status::kLastRowSent},
  };
  for (const Scenario& scenario : scenarios) RunScenario(scenario);

  ResponseTracker tracker(ResponseShape::kStmtPrepare, k41);
  ASSERT_TRUE(tracker.OnServerPacket(prepare_ok).ok());
  ASSERT_TRUE(tracker.prepare_ok().has_value());
  EXPECT_EQ(tracker.prepare_ok()->statement_id, 7U);
  EXPECT_EQ(tracker.prepare_ok()->parameter_count, 2);
}

TEST(ProtocolResponseTest, ExposesTheFinalOkAndTheError) {
  ResponseTracker ok_tracker(ResponseShape::kQuery, k41);
  const Bytes ok = Encode(OkPacket{.affected_rows = 3,
                                   .last_insert_id = 9,
                                   .status_flags = kAuto | status::kSessionStateChanged,
                                   .session_state = "\x01\x05\x04shop"},
                          k41);
  ASSERT_TRUE(ok_tracker.OnServerPacket(ok).ok());
  ASSERT_TRUE(ok_tracker.last_ok().has_value());
  EXPECT_EQ(ok_tracker.last_ok()->affected_rows, 3U);
  EXPECT_EQ(ok_tracker.last_ok()->session_state, "\x01\x05\x04shop");
  EXPECT_FALSE(ok_tracker.error().has_value());

  ResponseTracker err_tracker(ResponseShape::kQuery, k41);
  ASSERT_TRUE(err_tracker.OnServerPacket(Err(1146)).ok());
  ASSERT_TRUE(err_tracker.error().has_value());
  EXPECT_EQ(err_tracker.error()->code, 1146);
  EXPECT_EQ(err_tracker.error()->sql_state, "42000");
}

TEST(ProtocolResponseTest, ProtocolViolationsFailTheTracker) {
  struct Violation {
    std::string name;
    ResponseShape shape;
    Capabilities caps;
    std::vector<Bytes> accepted;  // Packets that are fine.
    Bytes bad;                    // The packet that cannot come next.
    std::string fragment;
  };
  const std::vector<Violation> violations = {
      {"empty packet", ResponseShape::kQuery, k41, {}, {}, "empty packet"},
      {"0xFE where a result starts", ResponseShape::kQuery, k41, {}, Eof(0), "0xFE where"},
      {"zero columns", ResponseShape::kQuery, k41, {}, Hex("fc 00 00"), "zero columns"},
      {"row instead of the metadata EOF",
       ResponseShape::kQuery,
       k41,
       {Count(1), ColumnDef("a")},
       TextRow("1"),
       "expected EOF after the column definitions"},
      {"binary row without 0x00",
       ResponseShape::kStmtExecute,
       kNoEof,
       {Count(1), ColumnDef("a")},
       TextRow("1"),
       "binary row does not start with 0x00"},
      {"truncated EOF",
       ResponseShape::kQuery,
       k41,
       {Count(1), ColumnDef("a")},
       Hex("fe 00"),
       "truncated at warnings"},
      {"truncated OK-as-EOF",
       ResponseShape::kQuery,
       kNoEof,
       {Count(1), ColumnDef("a")},
       Hex("fe 00 00 02"),
       "truncated at status flags"},
      {"progress report without PROGRESS",
       ResponseShape::kQuery,
       k41,
       {},
       Hex("ff ff ff 01 01 02 00 00 00 00"),
       "progress report without"},
      {"truncated ERR", ResponseShape::kQuery, k41, {}, Hex("ff 01"), "truncated at error code"},
      {"rows after LOCAL INFILE",
       ResponseShape::kQuery,
       k41,
       {Hex("fb 61")},
       Count(1),
       "expected OK or ERR after LOCAL INFILE data"},
      {"a row as the PING reply",
       ResponseShape::kOkOrErr,
       k41,
       {},
       TextRow("1"),
       "expected OK or ERR"},
      {"a row as the SET_OPTION reply",
       ResponseShape::kEofOrErr,
       k41,
       {},
       TextRow("1"),
       "expected EOF or ERR"},
      {"an OK instead of PREPARE_OK",
       ResponseShape::kStmtPrepare,
       k41,
       {},
       Ok(0),
       "truncated at parameter count"},
      {"missing parameter EOF",
       ResponseShape::kStmtPrepare,
       k41,
       {Encode(StmtPrepareOk{.statement_id = 1, .parameter_count = 1}, k41), ColumnDef("?")},
       ColumnDef("?"),
       "expected EOF after the parameter definitions"},
      {"missing column EOF",
       ResponseShape::kStmtPrepare,
       k41,
       {Encode(StmtPrepareOk{.statement_id = 1, .column_count = 1}, k41), ColumnDef("c")},
       ColumnDef("c"),
       "expected EOF after the column definitions"},
      {"bad auth switch",
       ResponseShape::kAuthentication,
       k41,
       {},
       Hex("fe 61 62"),
       "truncated at plugin name"},
  };
  for (const Violation& violation : violations) {
    SCOPED_TRACE(violation.name);
    ResponseTracker tracker(violation.shape, violation.caps);
    for (const Bytes& packet : violation.accepted) {
      auto kind = tracker.OnServerPacket(packet);
      ASSERT_TRUE(kind.ok()) << kind.error().message;
    }
    auto bad = tracker.OnServerPacket(violation.bad);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find(violation.fragment), std::string::npos)
        << bad.error().message;
    EXPECT_TRUE(tracker.failed());
    EXPECT_FALSE(tracker.complete());
    EXPECT_FALSE(tracker.OnServerPacket(Ok(0)).ok()) << "a failed tracker stays failed";
  }
}

TEST(ProtocolResponseTest, ShapesOfCommands) {
  struct Row {
    Command command;
    std::optional<ResponseShape> shape;
  };
  const Row rows[] = {
      {Command::kQuit, ResponseShape::kNone},
      {Command::kInitDb, ResponseShape::kOkOrErr},
      {Command::kQuery, ResponseShape::kQuery},
      {Command::kFieldList, ResponseShape::kFieldList},
      {Command::kStatistics, ResponseShape::kStatistics},
      {Command::kProcessInfo, ResponseShape::kQuery},
      {Command::kPing, ResponseShape::kOkOrErr},
      {Command::kChangeUser, ResponseShape::kAuthentication},
      {Command::kBinlogDump, std::nullopt},
      {Command::kTableDump, std::nullopt},
      {Command::kConnectOut, std::nullopt},
      {Command::kRegisterSlave, std::nullopt},
      {Command::kBinlogDumpGtid, std::nullopt},
      {Command::kStmtPrepare, ResponseShape::kStmtPrepare},
      {Command::kStmtExecute, ResponseShape::kStmtExecute},
      {Command::kStmtSendLongData, ResponseShape::kNone},
      {Command::kStmtClose, ResponseShape::kNone},
      {Command::kStmtReset, ResponseShape::kOkOrErr},
      {Command::kSetOption, ResponseShape::kEofOrErr},
      {Command::kStmtFetch, ResponseShape::kStmtFetch},
      {Command::kResetConnection, ResponseShape::kOkOrErr},
      {Command::kStmtBulkExecute, ResponseShape::kStmtExecute},
      {static_cast<Command>(0x42), ResponseShape::kOkOrErr},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(ResponseShapeOf(row.command), row.shape) << static_cast<int>(row.command);
  }
}

// Random packets never crash a tracker, and once it is complete or failed it stays so.
TEST(ProtocolResponseTest, RandomPacketsNeverCrash) {
  std::mt19937 random(12345);
  const ResponseShape shapes[] = {
      ResponseShape::kOkOrErr,     ResponseShape::kEofOrErr,  ResponseShape::kStatistics,
      ResponseShape::kQuery,       ResponseShape::kFieldList, ResponseShape::kStmtPrepare,
      ResponseShape::kStmtExecute, ResponseShape::kStmtFetch, ResponseShape::kAuthentication,
  };
  const Capabilities caps_choices[] = {k41, kNoEof, kNoEof | cap::kMariadbProgress,
                                       k41 | cap::kMariadbCacheMetadata};
  // Biased first bytes: the interesting ones.
  const std::uint8_t firsts[] = {0x00, 0x01, 0x02, 0x03, 0xfb, 0xfc, 0xfe, 0xff};
  int packets = 0;
  for (std::size_t trial = 0; trial < 3000; ++trial) {
    ResponseTracker tracker(shapes[trial % std::size(shapes)],
                            caps_choices[(trial / 9) % std::size(caps_choices)]);
    for (int i = 0; i < 12 && !tracker.complete() && !tracker.failed(); ++i) {
      Bytes packet(random() % 14);
      for (auto& byte : packet) byte = static_cast<std::uint8_t>(random());
      if (!packet.empty() && random() % 2) packet[0] = firsts[random() % std::size(firsts)];
      (void)tracker.OnServerPacket(packet);
      ++packets;
    }
    if (tracker.complete() || tracker.failed()) {
      EXPECT_FALSE(tracker.OnServerPacket(Ok(0)).ok());
    }
  }
  EXPECT_GT(packets, 3000);
}

}  // namespace
}  // namespace longlink::protocol
