#include "protocol/command.h"

#include <gtest/gtest.h>

#include "codec_test_util.h"

namespace longlink::protocol {
namespace {

using testing::CheckCodecRows;
using testing::CheckFailureRows;
using testing::CodecRow;
using testing::Concat;
using testing::Hex;
using testing::IgnoringCaps;
using testing::Str;
using testing::ToHex;

template <typename Message>
void CheckRows(const std::vector<CodecRow<Message>>& rows) {
  CheckCodecRows<Message>(rows, IgnoringCaps(&Decode<Message>), IgnoringCaps<Message>(&Encode));
}

TEST(ProtocolCommandTest, CommandByte) {
  auto query = CommandOf(Hex("03 73 65 6c 65 63 74 20 31"));
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(*query, Command::kQuery);
  auto unknown = CommandOf(Hex("42"));
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(static_cast<int>(*unknown), 0x42);
  EXPECT_FALSE(CommandOf(ByteView()).ok());

  EXPECT_EQ(ToHex(EncodeCommand(Command::kQuit)), "01");
  EXPECT_EQ(ToHex(EncodeCommand(Command::kPing)), "0e");
  EXPECT_EQ(ToHex(EncodeCommand(Command::kResetConnection)), "1f");
}

TEST(ProtocolCommandTest, TextCommands) {
  // MySQL docs: COM_QUERY "select @@version_comment limit 1".
  CheckRows<Query>({
      {.name = "MySQL docs example",
       .value = {.query = "select @@version_comment limit 1"},
       .bytes = Concat({Hex("03"), Str("select @@version_comment limit 1")}),
       .shortest_valid = 1},
      {.name = "empty query", .value = {}, .bytes = Hex("03")},
  });
  CheckRows<InitDb>({
      {.name = "USE shop",
       .value = {.schema = "shop"},
       .bytes = Hex("02 73 68 6f 70"),
       .shortest_valid = 1},
  });
  CheckRows<StmtPrepare>({
      {.name = "MySQL docs example",
       .value = {.query = "SELECT CONCAT(?, ?) AS col1"},
       .bytes = Concat({Hex("16"), Str("SELECT CONCAT(?, ?) AS col1")}),
       .shortest_valid = 1},
  });
  CheckRows<FieldList>({
      {.name = "the mariadb CLI's auto-rehash",
       .value = {.table = "orders", .wildcard = ""},
       .bytes = Hex("04 6f 72 64 65 72 73 00"),
       .shortest_valid = 8},
      {.name = "with a wildcard",
       .value = {.table = "t", .wildcard = "id%"},
       .bytes = Hex("04 74 00 69 64 25"),
       .shortest_valid = 3},
  });
  CheckFailureRows<Query>(
      {{.name = "not COM_QUERY", .bytes = Hex("02 61"), .message_fragment = "expected 3"}},
      IgnoringCaps(&Decode<Query>));
  CheckFailureRows<FieldList>({{.name = "table without NUL",
                                .bytes = Hex("04 74"),
                                .message_fragment = "truncated at table"}},
                              IgnoringCaps(&Decode<FieldList>));
}

TEST(ProtocolCommandTest, SetOption) {
  CheckRows<SetOption>({
      {.name = "multi-statements on", .value = {.option = 0}, .bytes = Hex("1b 00 00")},
      {.name = "multi-statements off",
       .value = {.option = SetOption::kMultiStatementsOff},
       .bytes = Hex("1b 01 00")},
  });
  CheckFailureRows<SetOption>(
      {{.name = "trailing byte",
        .bytes = Hex("1b 01 00 00"),
        .message_fragment = "bytes after the last field"},
       {.name = "no option", .bytes = Hex("1b 01"), .message_fragment = "truncated at option"}},
      IgnoringCaps(&Decode<SetOption>));
}

TEST(ProtocolCommandTest, PreparedStatementCommands) {
  // MySQL docs: COM_STMT_EXECUTE of statement 1, no cursor, one iteration, one parameter.
  CheckRows<StmtExecute>({
      {.name = "MySQL docs example",
       .value = {.statement_id = 1,
                 .flags = StmtExecute::kCursorTypeNoCursor,
                 .iteration_count = 1,
                 .parameters = std::string("\x00\x01\x0f\x00\x03\x66\x6f\x6f", 8)},
       .bytes = Hex("17 01 00 00 00 00 01 00 00 00 00 01 0f 00 03 66 6f 6f"),
       .shortest_valid = 10},
      {.name = "MariaDB's last-prepared id, read-only cursor",
       .value = {.statement_id = kLastPreparedStatementId,
                 .flags = StmtExecute::kCursorTypeReadOnly},
       .bytes = Hex("17 ff ff ff ff 01 01 00 00 00"),
       .shortest_valid = 10},
  });
  CheckRows<StmtSendLongData>({
      {.name = "parameter 1",
       .value = {.statement_id = 3, .parameter_id = 1, .data = "blob"},
       .bytes = Hex("18 03 00 00 00 01 00 62 6c 6f 62"),
       .shortest_valid = 7},
  });
  CheckRows<StmtClose>({
      {.name = "close 2", .value = {.statement_id = 2}, .bytes = Hex("19 02 00 00 00")},
  });
  CheckRows<StmtReset>({
      {.name = "reset 2", .value = {.statement_id = 2}, .bytes = Hex("1a 02 00 00 00")},
  });
  CheckRows<StmtFetch>({
      {.name = "fetch 100 rows",
       .value = {.statement_id = 5, .row_count = 100},
       .bytes = Hex("1c 05 00 00 00 64 00 00 00")},
  });
  CheckFailureRows<StmtClose>({{.name = "STMT_RESET is not STMT_CLOSE",
                                .bytes = Hex("1a 02 00 00 00"),
                                .message_fragment = "command byte 26, expected 25"},
                               {.name = "trailing byte",
                                .bytes = Hex("19 02 00 00 00 00"),
                                .message_fragment = "bytes after the last field"}},
                              IgnoringCaps(&Decode<StmtClose>));
}

TEST(ProtocolCommandTest, StatementIdOfEveryStatementCommand) {
  EXPECT_EQ(StatementIdOf(Hex("17 01 00 00 00 00 01 00 00 00")), 1U);
  EXPECT_EQ(StatementIdOf(Hex("18 02 00 00 00 01 00")), 2U);
  EXPECT_EQ(StatementIdOf(Hex("19 03 00 00 00")), 3U);
  EXPECT_EQ(StatementIdOf(Hex("1a 04 00 00 00")), 4U);
  EXPECT_EQ(StatementIdOf(Hex("1c 05 00 00 00 01 00 00 00")), 5U);
  EXPECT_EQ(StatementIdOf(Hex("fa ff ff ff ff 00 00")), kLastPreparedStatementId);
  EXPECT_EQ(StatementIdOf(Hex("16 53 45 4c")), std::nullopt);  // PREPARE has none yet.
  EXPECT_EQ(StatementIdOf(Hex("03 31 32 33 34")), std::nullopt);
  EXPECT_EQ(StatementIdOf(Hex("19 03 00")), std::nullopt);
  EXPECT_EQ(StatementIdOf(ByteView()), std::nullopt);
}

}  // namespace
}  // namespace longlink::protocol
