#include "protocol/frame.h"

#include <gtest/gtest.h>

#include "codec_test_util.h"

namespace longlink::protocol {
namespace {

using testing::Hex;
using testing::ToHex;

// A payload of `size` bytes with a recognisable pattern.
Bytes Pattern(std::size_t size) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return out;
}

// Feeds `bytes` in pieces of `piece` bytes and collects every packet.
std::vector<Packet> FeedAll(PacketFramer* framer, ByteView bytes, std::size_t piece) {
  std::vector<Packet> packets;
  for (std::size_t offset = 0; offset < bytes.size(); offset += piece) {
    framer->Feed(bytes.subspan(offset, std::min(piece, bytes.size() - offset)));
    while (true) {
      auto next = framer->Next();
      EXPECT_TRUE(next.ok()) << next.error().message;
      if (!next.ok() || !next->has_value()) break;
      packets.push_back(std::move(**next));
    }
  }
  return packets;
}

TEST(ProtocolFrameTest, HeaderRoundTrips) {
  struct Row {
    PacketHeader header;
    const char* hex;
  };
  const Row rows[] = {
      {{.payload_length = 0, .sequence_id = 0}, "00 00 00 00"},
      {{.payload_length = 1, .sequence_id = 0}, "01 00 00 00"},
      // The COM_QUERY "select @@version_comment limit 1" header from MySQL's docs.
      {{.payload_length = 0x21, .sequence_id = 0}, "21 00 00 00"},
      {{.payload_length = 0x0102ff, .sequence_id = 7}, "ff 02 01 07"},
      {{.payload_length = 0xffffff, .sequence_id = 255}, "ff ff ff ff"},
  };
  for (const Row& row : rows) {
    Bytes bytes;
    EncodePacketHeader(row.header, &bytes);
    EXPECT_EQ(ToHex(bytes), ToHex(Hex(row.hex)));
    EXPECT_EQ(DecodePacketHeader(bytes), row.header);
  }
  const Bytes three = Hex("01 00 00");
  EXPECT_EQ(DecodePacketHeader(three), std::nullopt);
  EXPECT_EQ(DecodePacketHeader(ByteView()), std::nullopt);
}

TEST(ProtocolFrameTest, SmallAndEmptyPayloadsAreOneChunk) {
  // MySQL docs: COM_QUIT is "01 00 00 00 01".
  const Bytes quit = Hex("01");
  EXPECT_EQ(ToHex(Frame(quit, 0)), "01 00 00 00 01");
  EXPECT_EQ(ToHex(Frame(ByteView(), 5)), "00 00 00 05");
  Bytes out;
  EXPECT_EQ(AppendFramed(quit, 9, &out), 10);
  EXPECT_EQ(ChunkCount(0), 1U);
  EXPECT_EQ(ChunkCount(kMaxChunkPayload - 1), 1U);
  EXPECT_EQ(FramedSize(1), 5U);
}

TEST(ProtocolFrameTest, SplitsAtExactly0xFFFFFFWithATrailingEmptyChunk) {
  struct Row {
    std::size_t size;
    std::vector<std::size_t> chunks;
  };
  const Row rows[] = {
      {kMaxChunkPayload - 1, {kMaxChunkPayload - 1}},
      {kMaxChunkPayload, {kMaxChunkPayload, 0}},
      {kMaxChunkPayload + 5, {kMaxChunkPayload, 5}},
      {2 * kMaxChunkPayload, {kMaxChunkPayload, kMaxChunkPayload, 0}},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.size);
    const Bytes payload = Pattern(row.size);
    Bytes wire;
    const std::uint8_t next = AppendFramed(payload, 254, &wire);
    EXPECT_EQ(ChunkCount(row.size), row.chunks.size());
    EXPECT_EQ(wire.size(), FramedSize(row.size));
    EXPECT_EQ(next, static_cast<std::uint8_t>(254 + row.chunks.size()));

    std::size_t offset = 0;
    std::size_t payload_offset = 0;
    for (std::size_t i = 0; i < row.chunks.size(); ++i) {
      auto header = DecodePacketHeader(ByteView(wire).subspan(offset));
      ASSERT_TRUE(header.has_value());
      EXPECT_EQ(header->payload_length, row.chunks[i]);
      // Sequence ids continue across the split and wrap from 255 to 0.
      EXPECT_EQ(header->sequence_id, static_cast<std::uint8_t>(254 + i));
      offset += kPacketHeaderSize;
      EXPECT_TRUE(std::equal(wire.begin() + static_cast<std::ptrdiff_t>(offset),
                             wire.begin() + static_cast<std::ptrdiff_t>(offset + row.chunks[i]),
                             payload.begin() + static_cast<std::ptrdiff_t>(payload_offset)));
      offset += row.chunks[i];
      payload_offset += row.chunks[i];
    }
    EXPECT_EQ(offset, wire.size());

    // The framer joins it back.
    PacketFramer framer(3 * kMaxChunkPayload);
    auto packets = FeedAll(&framer, wire, 1 << 20);
    ASSERT_EQ(packets.size(), 1U);
    EXPECT_EQ(packets[0].payload, payload);
    EXPECT_EQ(packets[0].sequence_id, 254);
    EXPECT_EQ(packets[0].last_sequence_id, static_cast<std::uint8_t>(next - 1));
    EXPECT_EQ(framer.buffered(), 0U);
  }
}

TEST(ProtocolFrameTest, FramerReturnsPacketsFedOneByteAtATime) {
  Bytes wire = Frame(Hex("03 73 65 6c 65 63 74 20 31"), 0);  // COM_QUERY "select 1"
  AppendFramed(ByteView(), 1, &wire);
  AppendFramed(Hex("0e"), 0, &wire);  // COM_PING
  PacketFramer framer(1024);
  auto packets = FeedAll(&framer, wire, 1);
  ASSERT_EQ(packets.size(), 3U);
  EXPECT_EQ(ToHex(packets[0].payload), "03 73 65 6c 65 63 74 20 31");
  EXPECT_EQ(packets[0].sequence_id, 0);
  EXPECT_TRUE(packets[1].payload.empty());
  EXPECT_EQ(packets[1].sequence_id, 1);
  EXPECT_EQ(ToHex(packets[2].payload), "0e");
}

TEST(ProtocolFrameTest, FramerWaitsForTheTrailingEmptyChunk) {
  const Bytes payload = Pattern(kMaxChunkPayload);
  const Bytes wire = Frame(payload, 0);
  PacketFramer framer(kMaxChunkPayload);
  // Everything except the empty trailing chunk: not yet a packet.
  framer.Feed(ByteView(wire).subspan(0, wire.size() - kPacketHeaderSize));
  auto incomplete = framer.Next();
  ASSERT_TRUE(incomplete.ok());
  EXPECT_FALSE(incomplete->has_value());
  framer.Feed(ByteView(wire).subspan(wire.size() - kPacketHeaderSize));
  auto complete = framer.Next();
  ASSERT_TRUE(complete.ok());
  ASSERT_TRUE(complete->has_value());
  EXPECT_EQ((*complete)->payload.size(), kMaxChunkPayload);
  EXPECT_EQ((*complete)->last_sequence_id, 1);
}

TEST(ProtocolFrameTest, ContinuationOutOfOrderIsAFault) {
  Bytes wire;
  EncodePacketHeader({.payload_length = kMaxChunkPayload, .sequence_id = 3}, &wire);
  wire.resize(wire.size() + kMaxChunkPayload, 'x');
  EncodePacketHeader({.payload_length = 2, .sequence_id = 5}, &wire);  // 4 expected
  PacketFramer framer(4 * kMaxChunkPayload);
  framer.Feed(wire);
  auto next = framer.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(framer.fault(), FramingFault::kOutOfOrder);
  EXPECT_NE(next.error().message.find("sequence id 5, expected 4"), std::string::npos)
      << next.error().message;
  // A stopped framer stays stopped.
  framer.Feed(Frame(Hex("0e"), 0));
  EXPECT_FALSE(framer.Next().ok());
  EXPECT_EQ(framer.buffered(), 0U);
}

TEST(ProtocolFrameTest, ContinuationSequenceWrapsFrom255To0) {
  Bytes wire;
  EncodePacketHeader({.payload_length = kMaxChunkPayload, .sequence_id = 255}, &wire);
  wire.resize(wire.size() + kMaxChunkPayload, 'y');
  EncodePacketHeader({.payload_length = 1, .sequence_id = 0}, &wire);
  wire.push_back('z');
  PacketFramer framer(2 * kMaxChunkPayload);
  framer.Feed(wire);
  auto next = framer.Next();
  ASSERT_TRUE(next.ok()) << next.error().message;
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->sequence_id, 255);
  EXPECT_EQ((*next)->last_sequence_id, 0);
  EXPECT_EQ((*next)->payload.size(), kMaxChunkPayload + 1);
}

TEST(ProtocolFrameTest, TooLargeIsReportedFromTheHeaderAlone) {
  // A 17 MiB query announced by its headers: refused before its payload arrives.
  PacketFramer framer(16 << 20);
  Bytes wire;
  EncodePacketHeader({.payload_length = kMaxChunkPayload, .sequence_id = 0}, &wire);
  framer.Feed(wire);
  auto first = framer.Next();
  ASSERT_TRUE(first.ok());  // 0xFFFFFF < 16 MiB: still acceptable.
  EXPECT_FALSE(first->has_value());

  PacketFramer small(100);
  Bytes header;
  EncodePacketHeader({.payload_length = 101, .sequence_id = 0}, &header);
  small.Feed(header);
  auto refused = small.Next();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(small.fault(), FramingFault::kPacketTooLarge);
  EXPECT_NE(refused.error().message.find("100 bytes"), std::string::npos);
}

TEST(ProtocolFrameTest, TooLargeCountsEveryChunk) {
  const Bytes wire = Frame(Pattern(kMaxChunkPayload + 10), 0);
  PacketFramer at_limit(kMaxChunkPayload + 10);
  auto packets = FeedAll(&at_limit, wire, 1 << 22);
  ASSERT_EQ(packets.size(), 1U);

  PacketFramer below_limit(kMaxChunkPayload + 9);
  below_limit.Feed(wire);
  EXPECT_FALSE(below_limit.Next().ok());
  EXPECT_EQ(below_limit.fault(), FramingFault::kPacketTooLarge);
}

TEST(ProtocolFrameTest, PeekChunkFindsCompleteChunksInPlace) {
  Bytes wire = Frame(Pattern(kMaxChunkPayload + 3), 7);  // Chunks of 0xFFFFFF and 3 bytes.
  AppendFramed(Hex("0e"), 0, &wire);

  ByteView rest(wire);
  auto first = PeekChunk(rest);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->header.sequence_id, 7);
  EXPECT_TRUE(first->continues());
  EXPECT_EQ(first->payload.data(), wire.data() + kPacketHeaderSize);  // A view, not a copy.
  rest = rest.subspan(first->size());
  auto second = PeekChunk(rest);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->header.sequence_id, 8);
  EXPECT_FALSE(second->continues());
  EXPECT_EQ(second->payload.size(), 3U);
  rest = rest.subspan(second->size());
  auto ping = PeekChunk(rest);
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ToHex(ping->payload), "0e");
  EXPECT_EQ(ping->size(), rest.size());

  // Incomplete header or payload: nothing yet.
  for (std::size_t length = 0; length < rest.size(); ++length) {
    EXPECT_FALSE(PeekChunk(rest.subspan(0, length)).has_value()) << length;
  }
}

TEST(ProtocolFrameTest, IdleFramerReleasesALargeBuffer) {
  PacketFramer framer(2 * kMaxChunkPayload);
  framer.Feed(Frame(Pattern(1 << 20), 0));
  auto big = framer.Next();
  ASSERT_TRUE(big.ok() && big->has_value());
  EXPECT_EQ(framer.capacity(), 0U);
  framer.Feed(Frame(Hex("0e"), 0));
  auto ping = framer.Next();
  ASSERT_TRUE(ping.ok() && ping->has_value());
  EXPECT_LE(framer.capacity(), PacketFramer::kIdleCapacity);
}

TEST(ProtocolFrameTest, BufferedCountsUnreturnedBytes) {
  PacketFramer framer(64);
  const Bytes wire = Frame(Hex("0e"), 0);
  framer.Feed(ByteView(wire).subspan(0, 3));
  EXPECT_EQ(framer.buffered(), 3U);
  framer.Feed(ByteView(wire).subspan(3));
  auto next = framer.Next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ(framer.buffered(), 0U);
  EXPECT_EQ(framer.max_payload(), 64U);
}

}  // namespace
}  // namespace longlink::protocol
