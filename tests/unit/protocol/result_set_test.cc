#include "protocol/result_set.h"

#include <gtest/gtest.h>

#include "codec_test_util.h"

namespace longlink::protocol {
namespace {

using testing::CheckCodecRows;
using testing::CheckFailureRows;
using testing::CodecRow;
using testing::FailureRow;
using testing::Hex;

namespace cap = capability;

testing::DecodeFn<ColumnDefinition> ColumnDecoder() {
  return [](ByteView bytes, Capabilities caps) { return Decode<ColumnDefinition>(bytes, caps); };
}
testing::EncodeFn<ColumnDefinition> ColumnEncoder() {
  return [](const ColumnDefinition& column, Capabilities caps) { return Encode(column, caps); };
}

// MariaDB 10.11's definition of `SELECT 'x' AS a` (utf8mb4, a NOT NULL VAR_STRING of 4 bytes,
// decimals 39 for a string): "def", four empty names, "a", an empty org_name.
const Bytes kSelectXAsA = Hex("03 646566 00 00 00 01 61 00 0c 2d00 04000000 fd 0100 27 0000");

TEST(ProtocolResultSetTest, ColumnDefinitionRoundTrips) {
  const ColumnDefinition x_as_a{.name = "a",
                                .character_set = 45,
                                .column_length = 4,
                                .type = column_type::kVarString,
                                .flags = column_flag::kNotNull,
                                .decimals = 39};
  const ColumnDefinition counter{
      .schema = "longlink",
      .table = "pools",
      .org_table = "pools",
      .name = "cl_active",
      .org_name = "cl_active",
      .character_set = 63,
      .column_length = 20,
      .type = column_type::kLongLong,
      .flags = column_flag::kNotNull | column_flag::kUnsigned | column_flag::kBinary,
      .decimals = 0};
  const Bytes counter_bytes =
      Hex("03 646566 08 6c6f6e676c696e6b 05 706f6f6c73 05 706f6f6c73 09 636c5f616374697665"
          " 09 636c5f616374697665 0c 3f00 14000000 08 a100 00 0000");
  std::vector<CodecRow<ColumnDefinition>> rows = {
      {.name = "select 'x' as a",
       .value = x_as_a,
       .caps = cap::kProtocol41,
       .bytes = kSelectXAsA,
       .shortest_valid = kSelectXAsA.size() - 2},  // The filler is not checked.
      {.name = "an unsigned counter",
       .value = counter,
       .caps = cap::kProtocol41,
       .bytes = counter_bytes,
       .shortest_valid = counter_bytes.size() - 2},
      {.name = "with MariaDB's extended metadata: an empty block",
       .value = x_as_a,
       .caps = cap::kProtocol41 | cap::kMariadbExtendedMetadata,
       .bytes = Hex("03 646566 00 00 00 01 61 00 00 0c 2d00 04000000 fd 0100 27 0000"),
       .shortest_valid = kSelectXAsA.size() + 1 - 2},
  };
  CheckCodecRows<ColumnDefinition>(rows, ColumnDecoder(), ColumnEncoder());
}

TEST(ProtocolResultSetTest, ColumnDefinitionFailures) {
  std::vector<FailureRow> rows = {
      {.name = "empty", .caps = cap::kProtocol41, .bytes = {}, .message_fragment = "catalog"},
      {.name = "fixed fields too short",
       .caps = cap::kProtocol41,
       .bytes = Hex("03 646566 00 00 00 01 61 00 0b 2d00 04000000 fd 0100 27"),
       .message_fragment = "fixed fields"},
  };
  CheckFailureRows<ColumnDefinition>(rows, ColumnDecoder());
}

TEST(ProtocolResultSetTest, TextRowsRoundTrip) {
  struct Case {
    std::string name;
    TextRow row;
    Bytes bytes;
  };
  const std::string long_value(300, 'v');
  Bytes long_bytes = Hex("fc 2c01");
  long_bytes.insert(long_bytes.end(), long_value.begin(), long_value.end());
  const Case cases[] = {
      {"two values", TextRow{{"app", "12"}}, Hex("03 617070 02 3132")},
      {"a NULL between", TextRow{{"a", std::nullopt, ""}}, Hex("01 61 fb 00")},
      {"a 300-byte value", TextRow{{long_value}}, long_bytes},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(testing::ToHex(Encode(c.row)), testing::ToHex(c.bytes));
    auto decoded = DecodeTextRow(c.bytes, c.row.values.size());
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(*decoded, c.row);
  }
  EXPECT_FALSE(DecodeTextRow(Hex("03 6170"), 1).ok());
  EXPECT_FALSE(DecodeTextRow(Hex("01 61 01 62"), 1).ok()) << "bytes after the last value";
}

}  // namespace
}  // namespace longlink::protocol
