#include "protocol/session_track.h"

#include <gtest/gtest.h>

#include "codec_test_util.h"

namespace longlink::protocol {
namespace {

using testing::Concat;
using testing::Hex;
using testing::Str;
using testing::ToHex;

struct Row {
  std::string name;
  std::vector<SessionChange> changes;
  Bytes bytes;
};

std::vector<Row> Rows() {
  return {
      {"SET autocommit=0",
       {SystemVariableChange{.name = "autocommit", .value = "OFF"}},
       Concat({Hex("00 0f 0a"), Str("autocommit"), Hex("03"), Str("OFF")})},
      {"USE test", {SchemaChange{.schema = "test"}}, Hex("01 05 04 74 65 73 74")},
      {"SET @x=1 (state change, as MariaDB 10.11 sends it)", {StateChange{}}, Hex("02 01 31")},
      {"SET TRANSACTION READ ONLY",
       {TransactionCharacteristicsChange{.characteristics = "SET TRANSACTION READ ONLY;"}},
       Concat({Hex("04 1b 1a"), Str("SET TRANSACTION READ ONLY;")})},
      {"BEGIN (transaction state)",
       {TransactionStateChange{.state = "T_______"}},
       Hex("05 09 08 54 5f 5f 5f 5f 5f 5f 5f")},
      {"GTIDs are kept raw",
       {UnknownSessionChange{.type = 3,
                             .data = std::string("\x00\x03"
                                                 "1-1",
                                                 5)}},
       Hex("03 05 00 03 31 2d 31")},
      {"an unknown future type is kept raw",
       {UnknownSessionChange{.type = 0x20, .data = "AB"}},
       Hex("20 02 41 42")},
      {"several entries in one OK, as after SET NAMES utf8mb4; USE shop",
       {SystemVariableChange{.name = "character_set_client", .value = "utf8mb4"},
        SystemVariableChange{.name = "character_set_connection", .value = "utf8mb4"},
        SchemaChange{.schema = "shop"}, StateChange{}},
       Concat({Hex("00 1d 14"), Str("character_set_client"), Hex("07"), Str("utf8mb4"),
               Hex("00 21 18"), Str("character_set_connection"), Hex("07"), Str("utf8mb4"),
               Hex("01 05 04"), Str("shop"), Hex("02 01 31")})},
      {"empty", {}, {}},
  };
}

TEST(ProtocolSessionTrackTest, EntriesRoundTrip) {
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(ToHex(AsBytes(EncodeSessionState(row.changes))), ToHex(row.bytes));
    auto decoded = DecodeSessionState(row.bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(*decoded, row.changes);
  }
}

TEST(ProtocolSessionTrackTest, EveryTruncationFailsCleanly) {
  for (const Row& row : Rows()) {
    SCOPED_TRACE(row.name);
    for (std::size_t length = 0; length < row.bytes.size(); ++length) {
      auto decoded = DecodeSessionState(ByteView(row.bytes).subspan(0, length));
      if (!decoded.ok()) continue;
      // A prefix may end exactly between entries; then it is the leading entries.
      ASSERT_LE(decoded->size(), row.changes.size());
      EXPECT_TRUE(std::equal(decoded->begin(), decoded->end(), row.changes.begin()))
          << "prefix of " << length << " bytes decoded to something else";
    }
  }
}

TEST(ProtocolSessionTrackTest, MalformedEntries) {
  struct Failure {
    const char* name;
    Bytes bytes;
    const char* fragment;
  };
  const Failure failures[] = {
      {"entry longer than the state", Hex("01 09 04 74 65"), "truncated at entry data"},
      {"variable without a value", Hex("00 05 04 61 62 63 64"), "truncated at system variable"},
      {"schema with trailing bytes", Hex("01 03 01 61 62"), "bytes after schema"},
      {"transaction state is not lenenc", Hex("05 02 08 54"), "truncated at transaction state"},
      {"type byte alone", Hex("01"), "truncated at entry data"},
  };
  for (const Failure& failure : failures) {
    SCOPED_TRACE(failure.name);
    auto decoded = DecodeSessionState(failure.bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.error().message.find(failure.fragment), std::string::npos)
        << decoded.error().message;
  }
}

TEST(ProtocolSessionTrackTest, TransactionStateTellsWhetherATransactionIsOpen) {
  EXPECT_TRUE(TransactionStateChange{.state = "T_______"}.InTransaction());
  EXPECT_TRUE(TransactionStateChange{.state = "I___W___"}.InTransaction());
  EXPECT_FALSE(TransactionStateChange{.state = "________"}.InTransaction());
  EXPECT_FALSE(TransactionStateChange{}.InTransaction());
}

}  // namespace
}  // namespace longlink::protocol
