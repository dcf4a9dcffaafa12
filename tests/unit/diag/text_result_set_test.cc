#include "diag/text_result_set.h"

#include <gtest/gtest.h>

#include "protocol/packets.h"
#include "protocol/wire.h"

namespace longlink::diag {
namespace {

namespace cap = protocol::capability;
using protocol::Bytes;
using protocol::Writer;

constexpr protocol::Capabilities kWithEof = cap::kProtocol41 | cap::kSecureConnection;
constexpr protocol::Capabilities kDeprecateEof = kWithEof | cap::kDeprecateEof;

Bytes ColumnDefinition(std::string_view name) {
  Bytes out;
  Writer w(&out);
  for (std::string_view s : {"def", "", "", ""}) w.WriteLenencString(s);
  w.WriteLenencString(name);
  w.WriteLenencString(name);
  w.WriteLenencInt(0x0c);
  w.WriteU16(33);
  w.WriteU32(64);
  w.WriteU8(253);
  w.WriteU16(0);
  w.WriteU8(0);
  w.WriteU16(0);
  return out;
}

Bytes Row(std::initializer_list<std::string_view> values) {
  Bytes out;
  Writer w(&out);
  for (auto v : values) w.WriteLenencString(v);
  return out;
}

// The packets of a two-column result set with `rows`, as a server sends them under `caps`.
std::vector<Bytes> NameValueResult(protocol::Capabilities caps,
                                   std::vector<std::pair<std::string, std::string>> rows) {
  std::vector<Bytes> packets;
  packets.push_back(protocol::Encode(protocol::ColumnCount{.count = 2}, caps));
  packets.push_back(ColumnDefinition("name"));
  packets.push_back(ColumnDefinition("value"));
  if (!(caps & cap::kDeprecateEof))
    packets.push_back(protocol::Encode(protocol::EofPacket{}, caps));
  for (const auto& [n, v] : rows) packets.push_back(Row({n, v}));
  if (caps & cap::kDeprecateEof) {
    packets.push_back(
        protocol::Encode(protocol::OkPacket{.header = protocol::OkPacket::Header::kEof}, caps));
  } else {
    packets.push_back(protocol::Encode(protocol::EofPacket{}, caps));
  }
  return packets;
}

Result<TextResultSet> ReadAll(const std::vector<Bytes>& packets, protocol::Capabilities caps,
                              std::size_t max_rows = 100) {
  TextResultSetReader reader(caps, max_rows);
  for (const auto& p : packets) {
    if (reader.complete()) return Error{"packets after the end"};
    if (auto s = reader.Add(p); !s) return s.error();
  }
  if (!reader.complete()) return Error{"incomplete"};
  return reader.Take();
}

TEST(TextResultSetTest, ReadsNamesAndRowsWithAndWithoutDeprecateEof) {
  for (auto caps : {kWithEof, kDeprecateEof}) {
    auto result = ReadAll(NameValueResult(caps, {{"version", "1.2.3"}, {"pid", "812"}}), caps);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result->columns, (std::vector<std::string>{"name", "value"}));
    ASSERT_EQ(result->rows.size(), 2u);
    EXPECT_EQ(result->rows[1], (std::vector<std::string>{"pid", "812"}));
    EXPECT_EQ(result->ColumnIndex("value"), 1u);
    EXPECT_FALSE(result->ColumnIndex("Value").has_value());
  }
}

TEST(TextResultSetTest, EmptyResultAndPlainOk) {
  auto empty = ReadAll(NameValueResult(kDeprecateEof, {}), kDeprecateEof);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->columns.size(), 2u);
  EXPECT_TRUE(empty->rows.empty());

  auto ok = ReadAll({protocol::Encode(protocol::OkPacket{}, kDeprecateEof)}, kDeprecateEof);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->columns.empty());
}

TEST(TextResultSetTest, NullReadsAsEmpty) {
  auto packets = NameValueResult(kDeprecateEof, {{"a", "b"}});
  Bytes row;
  Writer w(&row);
  w.WriteLenencString("x");
  w.WriteLenencNull();
  packets[3] = row;
  auto result = ReadAll(packets, kDeprecateEof);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result->rows[0], (std::vector<std::string>{"x", ""}));
}

TEST(TextResultSetTest, ErrQuotesTheServer) {
  TextResultSetReader reader(kDeprecateEof, 10);
  auto err = protocol::Encode(
      protocol::ErrPacket{.code = 1064, .sql_state = "42000", .message = "bad syntax"},
      kDeprecateEof);
  auto s = reader.Add(err);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "error 1064: bad syntax");
  ASSERT_TRUE(reader.error().has_value());
  EXPECT_EQ(reader.error()->code, 1064);
  EXPECT_TRUE(reader.complete());
}

TEST(TextResultSetTest, RefusesTooManyRowsAndBadRows) {
  auto many = ReadAll(NameValueResult(kDeprecateEof, {{"a", "1"}, {"b", "2"}, {"c", "3"}}),
                      kDeprecateEof, 2);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().message, "result set: more than 2 rows");

  auto packets = NameValueResult(kDeprecateEof, {{"a", "1"}});
  packets[3] = Row({"a", "1", "extra"});
  EXPECT_FALSE(ReadAll(packets, kDeprecateEof).ok());
  packets[3] = Row({"only"});
  EXPECT_FALSE(ReadAll(packets, kDeprecateEof).ok());
  packets[3] = Bytes{0x05, 'a'};  // Length 5, one byte.
  EXPECT_FALSE(ReadAll(packets, kDeprecateEof).ok());
}

TEST(TextResultSetTest, TruncatedColumnDefinitionIsAnError) {
  auto packets = NameValueResult(kDeprecateEof, {});
  packets[1] = Bytes{0x03, 'd', 'e', 'f', 0x00};
  auto result = ReadAll(packets, kDeprecateEof);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("column definition"), std::string::npos);
}

TEST(TextResultSetTest, RefusesASecondResult) {
  auto caps = kDeprecateEof;
  auto packets = NameValueResult(caps, {});
  packets.back() =
      protocol::Encode(protocol::OkPacket{.header = protocol::OkPacket::Header::kEof,
                                          .status_flags = protocol::status::kMoreResultsExist},
                       caps);
  EXPECT_FALSE(ReadAll(packets, caps).ok());
}

}  // namespace
}  // namespace longlink::diag
