#include "protocol/wire.h"

#include <gtest/gtest.h>

#include <limits>

#include "codec_test_util.h"

namespace longlink::protocol {
namespace {

using testing::Hex;
using testing::ToHex;

TEST(ProtocolWireTest, FixedIntegersAreLittleEndian) {
  Bytes bytes;
  Writer writer(&bytes);
  writer.WriteU8(0x01);
  writer.WriteU16(0x0302);
  writer.WriteU24(0x060504);
  writer.WriteU32(0x0a090807);
  writer.WriteU64(0x1211100f0e0d0c0bULL);
  EXPECT_EQ(ToHex(bytes), ToHex(Hex("01 0203 040506 0708090a 0b0c0d0e0f101112")));

  Reader reader(bytes);
  EXPECT_EQ(reader.ReadU8(), 0x01);
  EXPECT_EQ(reader.ReadU16(), 0x0302);
  EXPECT_EQ(reader.ReadU24(), 0x060504U);
  EXPECT_EQ(reader.ReadU32(), 0x0a090807U);
  EXPECT_EQ(reader.ReadU64(), 0x1211100f0e0d0c0bULL);
  EXPECT_TRUE(reader.empty());
  EXPECT_EQ(reader.ReadU8(), std::nullopt);
}

TEST(ProtocolWireTest, FixedIntegerReadsFailWithoutMovingWhenShort) {
  const Bytes bytes = Hex("01 02 03");
  for (std::size_t width = 4; width <= 8; ++width) {
    Reader reader(bytes);
    EXPECT_EQ(reader.ReadFixed(width), std::nullopt) << width;
    EXPECT_EQ(reader.position(), 0U);
  }
  Reader reader(bytes);
  EXPECT_EQ(reader.ReadU32(), std::nullopt);
  EXPECT_EQ(reader.ReadU24(), 0x030201U);
}

TEST(ProtocolWireTest, LenencIntegersRoundTripAtEveryBoundary) {
  struct Row {
    std::uint64_t value;
    const char* hex;
  };
  const Row rows[] = {
      {0, "00"},
      {1, "01"},
      {250, "fa"},
      {251, "fc fb 00"},
      {252, "fc fc 00"},
      {0xffff, "fc ff ff"},
      {0x10000, "fd 00 00 01"},
      {0xffffff, "fd ff ff ff"},
      {0x1000000, "fe 00 00 00 01 00 00 00 00"},
      {std::numeric_limits<std::uint64_t>::max(), "fe ff ff ff ff ff ff ff ff"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.value);
    Bytes bytes;
    Writer(&bytes).WriteLenencInt(row.value);
    EXPECT_EQ(ToHex(bytes), ToHex(Hex(row.hex)));
    EXPECT_EQ(bytes.size(), LenencIntSize(row.value));

    Reader reader(bytes);
    EXPECT_EQ(reader.ReadLenencInt(), row.value);
    EXPECT_TRUE(reader.empty());

    // Every truncation fails and leaves the reader where it was.
    for (std::size_t length = 0; length < bytes.size(); ++length) {
      Reader partial(ByteView(bytes).subspan(0, length));
      EXPECT_EQ(partial.ReadLenencInt(), std::nullopt) << length;
      EXPECT_EQ(partial.position(), 0U);
    }
  }
}

TEST(ProtocolWireTest, LenencAcceptsNonMinimalForms) {
  const Bytes bytes = Hex("fc 05 00 fd 05 00 00 fe 05 00 00 00 00 00 00 00");
  Reader reader(bytes);
  EXPECT_EQ(reader.ReadLenencInt(), 5U);
  EXPECT_EQ(reader.ReadLenencInt(), 5U);
  EXPECT_EQ(reader.ReadLenencInt(), 5U);
  EXPECT_TRUE(reader.empty());
}

TEST(ProtocolWireTest, LenencNullIsOnlyAcceptedWhereNullable) {
  const Bytes null_byte = Hex("fb");
  Reader strict(null_byte);
  EXPECT_EQ(strict.ReadLenencInt(), std::nullopt);
  EXPECT_EQ(strict.position(), 0U);

  Reader nullable(null_byte);
  EXPECT_EQ(nullable.ReadNullableLenencInt(), (NullableLenenc{.is_null = true, .value = 0}));
  EXPECT_TRUE(nullable.empty());

  Bytes written;
  Writer(&written).WriteLenencNull();
  EXPECT_EQ(ToHex(written), "fb");

  const Bytes ten_thousand = Hex("fc 10 27");
  Reader number(ten_thousand);
  EXPECT_EQ(number.ReadNullableLenencInt(), (NullableLenenc{.is_null = false, .value = 10000}));
}

TEST(ProtocolWireTest, LenencFirstByteFfIsInvalid) {
  const Bytes bytes = Hex("ff 00 00");
  Reader reader(bytes);
  EXPECT_EQ(reader.ReadLenencInt(), std::nullopt);
  EXPECT_EQ(reader.ReadNullableLenencInt(), std::nullopt);
  EXPECT_EQ(reader.position(), 0U);
}

TEST(ProtocolWireTest, LenencStrings) {
  Bytes bytes;
  Writer writer(&bytes);
  writer.WriteLenencString("");
  writer.WriteLenencString("def");
  const std::string long_text(300, 'x');
  writer.WriteLenencString(long_text);
  EXPECT_EQ(ToHex(ByteView(bytes).subspan(0, 7)), "00 03 64 65 66 fc 2c");

  Reader reader(bytes);
  EXPECT_EQ(reader.ReadLenencString(), "");
  EXPECT_EQ(reader.ReadLenencString(), "def");
  EXPECT_EQ(reader.ReadLenencString(), long_text);
  EXPECT_TRUE(reader.empty());
}

TEST(ProtocolWireTest, LenencStringLongerThanTheRestFails) {
  for (const char* hex : {"04 61 62 63", "fc 00 01 61", "fe ff ff ff ff ff ff ff ff", "fb 61"}) {
    SCOPED_TRACE(hex);
    const Bytes bytes = Hex(hex);
    Reader reader(bytes);
    EXPECT_EQ(reader.ReadLenencString(), std::nullopt);
    EXPECT_EQ(reader.position(), 0U);
  }
}

TEST(ProtocolWireTest, NulStrings) {
  const Bytes bytes = Hex("72 6f 6f 74 00 00 61");
  Reader reader(bytes);
  EXPECT_EQ(reader.ReadNulString(), "root");
  EXPECT_EQ(reader.ReadNulString(), "");
  EXPECT_EQ(reader.ReadNulString(), std::nullopt);  // "a" has no terminator.
  EXPECT_EQ(reader.position(), 6U);
  EXPECT_EQ(reader.ReadRest(), "a");
  EXPECT_EQ(reader.ReadRest(), "");

  Bytes written;
  Writer(&written).WriteNulString("root");
  EXPECT_EQ(ToHex(written), "72 6f 6f 74 00");
}

TEST(ProtocolWireTest, BytesStringsSkipAndPeek) {
  const Bytes bytes = Hex("01 02 03 04");
  Reader reader(bytes);
  EXPECT_EQ(reader.Peek(), 0x01);
  EXPECT_EQ(reader.ReadString(5), std::nullopt);
  EXPECT_TRUE(reader.Skip(1));
  auto two = reader.ReadBytes(2);
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(ToHex(*two), "02 03");
  EXPECT_FALSE(reader.Skip(2));
  EXPECT_EQ(reader.remaining(), 1U);
  EXPECT_TRUE(reader.Skip(1));
  EXPECT_EQ(reader.Peek(), std::nullopt);

  Bytes zeros;
  Writer(&zeros).WriteZeros(3);
  EXPECT_EQ(ToHex(zeros), "00 00 00");
}

TEST(ProtocolWireTest, ErrorsNameTheMessageAndField) {
  EXPECT_EQ(Truncated("OK packet", "status flags").message, "OK packet: truncated at status flags");
  EXPECT_EQ(Malformed("EOF packet", "header is not 0xFE").message,
            "EOF packet: header is not 0xFE");
}

}  // namespace
}  // namespace longlink::protocol
