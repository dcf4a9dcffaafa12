#include "protocol/packets.h"

#include <gtest/gtest.h>

#include "codec_test_util.h"
#include "protocol/session_track.h"

namespace longlink::protocol {
namespace {

using testing::CheckCodecRows;
using testing::CheckFailureRows;
using testing::CodecRow;
using testing::Concat;
using testing::FailureRow;
using testing::Hex;
using testing::Str;
using testing::ToHex;

namespace cap = capability;

constexpr Capabilities k41 = cap::kProtocol41;
constexpr Capabilities kTrack = cap::kProtocol41 | cap::kSessionTrack;

template <typename Message>
testing::DecodeFn<Message> Decoder() {
  return [](ByteView bytes, Capabilities caps) { return Decode<Message>(bytes, caps); };
}
template <typename Message>
testing::EncodeFn<Message> Encoder() {
  return [](const Message& message, Capabilities caps) { return Encode(message, caps); };
}

TEST(ProtocolPacketsTest, OkRoundTrips) {
  const std::string info = "Rows matched: 1  Changed: 1  Warnings: 0";
  std::vector<CodecRow<OkPacket>> rows = {
      // MySQL docs: "OK with CLIENT_PROTOCOL_41. 0 affected rows, last-insert-id was 0,
      // AUTOCOMMIT, 0 warnings. No further info."
      {.name = "MySQL docs example",
       .value = {.status_flags = status::kAutocommit},
       .caps = k41,
       .bytes = Hex("00 00 00 02 00 00 00"),
       .shortest_valid = 7},
      {.name = "UPDATE with info (lenenc, as MariaDB sends it)",
       .value = {.affected_rows = 1, .status_flags = status::kAutocommit, .info = info},
       .caps = k41,
       .bytes = Concat({Hex("00 01 00 02 00 00 00 28"), Str(info)}),
       .shortest_valid = 7},
      {.name = "large counts use the longer lenenc forms",
       .value = {.affected_rows = 300, .last_insert_id = 0x1000000, .warnings = 3},
       .caps = k41,
       .bytes = Hex("00 fc 2c 01 fe 00 00 00 01 00 00 00 00 00 00 03 00"),
       .shortest_valid = 17},
      {.name = "USE test under SESSION_TRACK: empty info, schema change",
       .value = {.status_flags = status::kAutocommit | status::kSessionStateChanged,
                 .session_state = std::string("\x01\x05\x04test", 7)},
       .caps = kTrack,
       .bytes = Hex("00 00 00 02 40 00 00 00 07 01 05 04 74 65 73 74"),
       .shortest_valid = 7},
      {.name = "SESSION_TRACK with info and no state change",
       .value = {.affected_rows = 1, .last_insert_id = 5, .status_flags = 0, .info = "ok"},
       .caps = kTrack,
       .bytes = Hex("00 01 05 00 00 00 00 02 6f 6b"),
       .shortest_valid = 7},
      {.name = "SESSION_TRACK, nothing after the warnings",
       .value = {.status_flags = status::kInTrans},
       .caps = kTrack,
       .bytes = Hex("00 00 00 01 00 00 00"),
       .shortest_valid = 7},
      {.name = "0xFE header ending a result set under DEPRECATE_EOF",
       .value = {.header = OkPacket::Header::kEof,
                 .status_flags = status::kAutocommit | status::kNoIndexUsed},
       .caps = k41 | cap::kDeprecateEof,
       .bytes = Hex("fe 00 00 22 00 00 00"),
       .shortest_valid = 7},
      {.name = "pre-4.1 with TRANSACTIONS: status, no warnings",
       .value = {.affected_rows = 2, .status_flags = status::kAutocommit},
       .caps = cap::kTransactions,
       .bytes = Hex("00 02 00 02 00"),
       .shortest_valid = 5},
  };
  CheckCodecRows<OkPacket>(rows, Decoder<OkPacket>(), Encoder<OkPacket>());
}

TEST(ProtocolPacketsTest, OkReencodedForAClientWithoutSessionTrackDropsTheState) {
  const Bytes from_backend = Hex("00 00 00 02 40 00 00 00 07 01 05 04 74 65 73 74");
  auto ok = Decode<OkPacket>(from_backend, kTrack);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  auto changes = DecodeSessionState(AsBytes(ok->session_state));
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 1U);
  EXPECT_EQ(std::get<SchemaChange>((*changes)[0]).schema, "test");

  // Status flags are forwarded as they are; the state bytes are not.
  EXPECT_EQ(ToHex(Encode(*ok, k41)), "00 00 00 02 40 00 00");
  OkPacket with_info = *ok;
  with_info.info = "hi";
  EXPECT_EQ(ToHex(Encode(with_info, k41)), "00 00 00 02 40 00 00 02 68 69");
  // And a client with SESSION_TRACK gets them back unchanged.
  EXPECT_EQ(ToHex(Encode(*ok, kTrack)), ToHex(from_backend));
}

TEST(ProtocolPacketsTest, OkAcceptsTheStringEofInfoOfMysqlDocs) {
  // Without SESSION_TRACK MySQL's docs show info as string<EOF>; accept that form too.
  const Bytes bytes = Concat({Hex("00 01 00 02 00 00 00"), Str("Rows matched: 1")});
  auto ok = Decode<OkPacket>(bytes, k41);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->info, "Rows matched: 1");
}

// Packets MariaDB 10.11 sends that are not as the protocol describes them: decoded as client
// libraries read them (never an error), with what the proxy needs recovered.
TEST(ProtocolPacketsTest, OkAcceptsWhatMariadbReallySends) {
  struct Row {
    const char* name;
    Bytes bytes;
    std::string session_state;
  };
  const Row rows[] = {
      // USE of a ucs2 schema (recorded): a zero byte before the real length of the state.
      {"USE of a ucs2 schema", Hex("00 00 00 02 40 00 00 00 00 07 01 02 01 75 02 01 31"),
       std::string("\x01\x02\x01u\x02\x01\x31", 7)},
      // The same with autocommit off (status 0x4000), as PyMySQL runs it.
      {"ucs2, autocommit off", Hex("00 00 00 00 40 00 00 00 00 07 01 02 01 75 02 01 31"),
       std::string("\x01\x02\x01u\x02\x01\x31", 7)},
      // A utf32 schema would reserve 4 bytes: three zeros.
      {"three zero bytes", Hex("00 00 00 02 40 00 00 00 00 00 00 03 02 01 31"),
       std::string("\x02\x01\x31", 3)},
      // Bytes after a complete state are ignored.
      {"trailing bytes", Hex("00 00 00 02 00 00 00 00 99"), ""},
      {"trailing bytes after a state", Hex("00 00 00 02 40 00 00 00 03 02 01 31 99 98"),
       std::string("\x02\x01\x31", 3)},
  };
  for (const Row& row : rows) {
    auto ok = Decode<OkPacket>(row.bytes, kTrack);
    ASSERT_TRUE(ok.ok()) << row.name << ": " << ok.error().message;
    EXPECT_EQ(ok->session_state, row.session_state) << row.name;
  }
}

TEST(ProtocolPacketsTest, OkFailures) {
  CheckFailureRows<OkPacket>(
      {
          {.name = "ERR header",
           .caps = k41,
           .bytes = Hex("ff 00 00"),
           .message_fragment = "header is neither"},
          {.name = "NULL affected rows",
           .caps = k41,
           .bytes = Hex("00 fb 00 02 00 00 00"),
           .message_fragment = "truncated at affected rows"},
          {.name = "cut in the status",
           .caps = k41,
           .bytes = Hex("00 00 00 02"),
           .message_fragment = "truncated at status flags"},
          {.name = "cut in the warnings",
           .caps = k41,
           .bytes = Hex("00 00 00 02 00 00"),
           .message_fragment = "truncated at warnings"},
          {.name = "SESSION_TRACK info longer than the packet",
           .caps = kTrack,
           .bytes = Hex("00 00 00 02 00 00 00 05 61"),
           .message_fragment = "truncated at info"},
          {.name = "SESSION_TRACK state longer than the packet",
           .caps = kTrack,
           .bytes = Hex("00 00 00 02 40 00 00 00 07 01 05"),
           .message_fragment = "truncated at session state"},
      },
      Decoder<OkPacket>());
}

TEST(ProtocolPacketsTest, ErrRoundTrips) {
  const std::string too_many = "Too many connections";
  const std::string denied = "Access denied for user 'app'@'localhost' (using password: YES)";
  CheckCodecRows<ErrPacket>(
      {
          // MySQL docs: ERR 1096 "No tables used".
          {.name = "MySQL docs example",
           .value = {.code = 1096, .sql_state = "HY000", .message = "No tables used"},
           .caps = k41,
           .bytes = Hex("ff 48 04 23 48 59 30 30 30 4e 6f 20 74 61 62 6c 65 73 20 75 73 65 64"),
           .shortest_valid = 3},
          // Sent instead of the greeting, before any capabilities: no SQLSTATE marker.
          {.name = "1040 before the handshake",
           .value = {.code = 1040, .message = too_many},
           .caps = 0,
           .bytes = Concat({Hex("ff 10 04"), Str(too_many)}),
           .shortest_valid = 3},
          {.name = "1045 access denied",
           .value = MakeErrPacket(server_error::kAccessDenied, denied),
           .caps = k41,
           .bytes = Concat({Hex("ff 15 04 23"), Str("28000"), Str(denied)}),
           .shortest_valid = 3},
          {.name = "empty message",
           .value = {.code = 1156, .sql_state = "08S01"},
           .caps = k41,
           .bytes = Hex("ff 84 04 23 30 38 53 30 31"),
           .shortest_valid = 3},
      },
      Decoder<ErrPacket>(), Encoder<ErrPacket>());

  // Without PROTOCOL_41 the SQLSTATE is not sent.
  EXPECT_EQ(ToHex(Encode(MakeErrPacket(server_error::kConCountError, "x"), 0)), "ff 10 04 78");
}

TEST(ProtocolPacketsTest, ErrorsTheProxySends) {
  const ErrPacket denied = AccessDeniedError("app", "localhost", true);
  EXPECT_EQ(denied.code, 1045);
  EXPECT_EQ(denied.sql_state, "28000");
  EXPECT_EQ(denied.message, "Access denied for user 'app'@'localhost' (using password: YES)");
  EXPECT_EQ(AccessDeniedError("x", "10.0.0.1", false).message,
            "Access denied for user 'x'@'10.0.0.1' (using password: NO)");
  // Before the greeting: no SQLSTATE marker.
  EXPECT_EQ(ToHex(Encode(TooManyConnectionsError(), 0)),
            ToHex(Concat({Hex("ff 10 04"), Str("Too many connections")})));
}

TEST(ProtocolPacketsTest, WithSqlStateFillsTheOneTheCodeGoesWith) {
  struct Row {
    const char* name;
    ErrPacket in;
    std::string sql_state;
  };
  const Row rows[] = {
      {"pre-greeting 1040", {.code = 1040, .message = "Too many connections"}, "08004"},
      {"pre-greeting 1203", {.code = 1203, .message = "x"}, "42000"},
      {"shutdown 1053", {.code = 1053, .message = "x"}, "08S01"},
      {"unknown code", {.code = 1129, .message = "Host is blocked"}, "HY000"},
      {"already has one", {.code = 1040, .sql_state = "XX000", .message = "x"}, "XX000"},
  };
  for (const Row& row : rows) {
    const ErrPacket out = WithSqlState(row.in);
    EXPECT_EQ(out.sql_state, row.sql_state) << row.name;
    EXPECT_EQ(out.code, row.in.code) << row.name;
    EXPECT_EQ(out.message, row.in.message) << row.name;
  }
}

TEST(ProtocolPacketsTest, ErrFailuresAndProgressReports) {
  // A MariaDB progress report: 0xFF 0xFFFF, 1 string, stage 1 of 2, 50.000%, "copy".
  const Bytes progress = Hex("ff ff ff 01 01 02 50 c3 00 04 63 6f 70 79");
  EXPECT_TRUE(IsProgressReport(progress));
  EXPECT_FALSE(IsProgressReport(Hex("ff 48 04 23")));
  EXPECT_FALSE(IsProgressReport(Hex("ff ff")));
  CheckFailureRows<ErrPacket>(
      {
          {.name = "progress report",
           .caps = k41,
           .bytes = progress,
           .message_fragment = "progress report"},
          {.name = "OK header",
           .caps = k41,
           .bytes = Hex("00 00"),
           .message_fragment = "header is not 0xFF"},
          {.name = "no code",
           .caps = k41,
           .bytes = Hex("ff 48"),
           .message_fragment = "truncated at error code"},
          {.name = "marker with a short SQLSTATE",
           .caps = k41,
           .bytes = Hex("ff 48 04 23 48 59"),
           .message_fragment = "truncated at SQLSTATE"},
      },
      Decoder<ErrPacket>());
}

TEST(ProtocolPacketsTest, EofRoundTrips) {
  CheckCodecRows<EofPacket>(
      {
          // MySQL docs: "05 00 00 05 fe 00 00 02 00".
          {.name = "MySQL docs example",
           .value = {.warnings = 0, .status_flags = status::kAutocommit},
           .caps = k41,
           .bytes = Hex("fe 00 00 02 00")},
          {.name = "more results, warnings",
           .value = {.warnings = 2, .status_flags = status::kMoreResultsExist | 2},
           .caps = k41,
           .bytes = Hex("fe 02 00 0a 00")},
          {.name = "pre-4.1: one byte", .value = {}, .caps = 0, .bytes = Hex("fe")},
      },
      Decoder<EofPacket>(), Encoder<EofPacket>());
  CheckFailureRows<EofPacket>(
      {
          {.name = "six bytes",
           .caps = k41,
           .bytes = Hex("fe 00 00 02 00 00"),
           .message_fragment = "bytes after the status flags"},
          {.name = "OK header",
           .caps = k41,
           .bytes = Hex("00 00 00 02 00"),
           .message_fragment = "header is not 0xFE"},
      },
      Decoder<EofPacket>());
}

TEST(ProtocolPacketsTest, StmtPrepareOkRoundTrips) {
  CheckCodecRows<StmtPrepareOk>(
      {
          // MySQL docs: "0c 00 00 01 00 01 00 00 00 01 00 02 00 00 00 00" for
          // SELECT CONCAT(?, ?) AS col1.
          {.name = "MySQL docs example",
           .value = {.statement_id = 1, .column_count = 1, .parameter_count = 2},
           .caps = k41,
           .bytes = Hex("00 01 00 00 00 01 00 02 00 00 00 00")},
          {.name = "large id, warnings",
           .value = {.statement_id = 0xfffffffe,
                     .column_count = 300,
                     .parameter_count = 0,
                     .warnings = 1},
           .caps = k41,
           .bytes = Hex("00 fe ff ff ff 2c 01 00 00 00 01 00")},
      },
      Decoder<StmtPrepareOk>(), Encoder<StmtPrepareOk>());

  const Bytes with_metadata_flag = Hex("00 01 00 00 00 01 00 02 00 00 00 00 01");
  EXPECT_FALSE(Decode<StmtPrepareOk>(with_metadata_flag, k41).ok());
  EXPECT_TRUE(
      Decode<StmtPrepareOk>(with_metadata_flag, k41 | cap::kOptionalResultsetMetadata).ok());
}

TEST(ProtocolPacketsTest, ColumnCountRoundTrips) {
  CheckCodecRows<ColumnCount>(
      {
          {.name = "one column", .value = {.count = 1}, .caps = k41, .bytes = Hex("01")},
          {.name = "300 columns", .value = {.count = 300}, .caps = k41, .bytes = Hex("fc 2c 01")},
          {.name = "cached metadata: none follows",
           .value = {.count = 2, .metadata_follows = false},
           .caps = k41 | cap::kMariadbCacheMetadata,
           .bytes = Hex("02 00")},
          {.name = "cached metadata: follows",
           .value = {.count = 2, .metadata_follows = true},
           .caps = k41 | cap::kMariadbCacheMetadata,
           .bytes = Hex("02 01")},
      },
      Decoder<ColumnCount>(), Encoder<ColumnCount>());
  CheckFailureRows<ColumnCount>(
      {
          {.name = "zero", .caps = k41, .bytes = Hex("00"), .message_fragment = "zero columns"},
          {.name = "trailing byte without CACHE_METADATA",
           .caps = k41,
           .bytes = Hex("02 01"),
           .message_fragment = "bytes after the count"},
      },
      Decoder<ColumnCount>());
}

TEST(ProtocolPacketsTest, LocalInfileRequestRoundTrips) {
  CheckCodecRows<LocalInfileRequest>(
      {
          {.name = "file name",
           .value = {.filename = "/tmp/data.csv"},
           .caps = k41 | cap::kLocalFiles,
           .bytes = Hex("fb 2f 74 6d 70 2f 64 61 74 61 2e 63 73 76"),
           .shortest_valid = 1},
      },
      Decoder<LocalInfileRequest>(), Encoder<LocalInfileRequest>());
}

}  // namespace
}  // namespace longlink::protocol

TEST(ProtocolPacketsTest, ServerClosesAfterItsNetworkKillAndShutdownErrors) {
  struct Row {
    std::uint16_t code;
    bool closes;
  };
  const Row rows[] = {
      {1040, false}, {1045, false}, {1047, false}, {1053, true},  {1064, false},
      {1152, false}, {1153, true},  {1156, true},  {1161, true},  {1162, false},
      {1317, false}, {1927, true},  {4031, true},  {1105, false}, {0xffff, false},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(longlink::protocol::ServerClosesAfter(row.code), row.closes) << row.code;
  }
}
