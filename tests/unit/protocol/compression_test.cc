// The compressed protocol codec (src/protocol/compression): frame headers, the encoder's
// threshold and 16 MiB split, the decoder's round trips and its refusals, and the sequence ids.
// Recordings of the real mariadb CLI and server are in compression_recorded_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "codec_test_util.h"
#include "protocol/compression/decoder.h"
#include "protocol/compression/deflate.h"
#include "protocol/compression/encoder.h"
#include "protocol/compression/format.h"
#include "protocol/compression/sequence.h"
#include "protocol/frame.h"

namespace longlink::protocol::compression {
namespace {

using testing::Concat;
using testing::Hex;
using testing::ToHex;

// Compressible bytes: a short repeating pattern.
Bytes Pattern(std::size_t size) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>("longlink"[i % 8]);
  return out;
}

// Incompressible bytes.
Bytes Noise(std::size_t size, unsigned seed = 1) {
  std::mt19937 random(seed);
  Bytes out(size);
  for (auto& byte : out) byte = static_cast<std::uint8_t>(random());
  return out;
}

Bytes Encode(ByteView data, std::uint8_t first_id = 0, const EncoderOptions& options = {}) {
  CompressedSequence sequence;
  sequence.FollowReceived(static_cast<std::uint8_t>(first_id - 1));
  Bytes out;
  Status status = AppendCompressed(data, &sequence, &out, options);
  EXPECT_TRUE(status.ok()) << status.error().message;
  return out;
}

// Every frame of `wire`, fed in pieces of `piece` bytes.
struct Decoded {
  Bytes data;                        // All frames' uncompressed bytes.
  std::vector<FrameHeader> headers;  // As decoded (payload_length of the wire).
  std::vector<std::size_t> sizes;    // Uncompressed bytes per frame.
};
Decoded DecodeAll(ByteView wire, std::size_t piece,
                  std::size_t max_frame_length = kMaxFrameLength) {
  Decoded decoded;
  CompressedDecoder decoder(max_frame_length);
  std::size_t header_at = 0;
  for (std::size_t offset = 0; offset < wire.size(); offset += piece) {
    decoder.Feed(wire.subspan(offset, std::min(piece, wire.size() - offset)));
    while (true) {
      auto next = decoder.Next();
      EXPECT_TRUE(next.ok()) << next.error().message;
      if (!next.ok() || !next->has_value()) break;
      const DecodedFrame& frame = **next;
      auto header = DecodeFrameHeader(wire.subspan(header_at));
      EXPECT_TRUE(header.has_value());
      EXPECT_EQ(header->sequence_id, frame.sequence_id);
      EXPECT_EQ(!header->stored(), frame.compressed);
      decoded.headers.push_back(*header);
      header_at += kFrameHeaderSize + header->payload_length;
      decoded.sizes.push_back(frame.data.size());
      decoded.data.insert(decoded.data.end(), frame.data.begin(), frame.data.end());
    }
  }
  EXPECT_EQ(decoder.buffered(), 0U);
  EXPECT_EQ(header_at, wire.size());
  return decoded;
}

// The decoder's error for `wire` fed whole, and its fault.
std::pair<std::string, DecodeFault> DecodeError(ByteView wire, std::size_t max = kMaxFrameLength) {
  CompressedDecoder decoder(max);
  decoder.Feed(wire);
  while (true) {
    auto next = decoder.Next();
    if (!next.ok()) return {next.error().message, decoder.fault()};
    if (!next->has_value()) return {"", decoder.fault()};
  }
}

TEST(ProtocolCompressionTest, HeaderRoundTrips) {
  struct Row {
    FrameHeader header;
    const char* hex;
  };
  const Row rows[] = {
      // libmariadb's stored COM_QUERY "SELECT REPEAT('x', 100000)" (testdata/big_row.*).
      {{.payload_length = 0x1f, .sequence_id = 0, .uncompressed_length = 0},
       "1f 00 00 00 00 00 00"},
      // The server's first reply frame to it: 110 bytes inflating to 16384.
      {{.payload_length = 0x6e, .sequence_id = 1, .uncompressed_length = 0x4000},
       "6e 00 00 01 00 40 00"},
      {{.payload_length = 0xffffff, .sequence_id = 255, .uncompressed_length = 0xffffff},
       "ff ff ff ff ff ff ff"},
  };
  for (const Row& row : rows) {
    Bytes bytes;
    EncodeFrameHeader(row.header, &bytes);
    EXPECT_EQ(ToHex(bytes), ToHex(Hex(row.hex)));
    EXPECT_EQ(DecodeFrameHeader(bytes), row.header);
  }
  EXPECT_EQ(DecodeFrameHeader(Hex("1f 00 00 00 00 00")), std::nullopt);
  EXPECT_TRUE(FrameHeader{}.stored());
}

TEST(ProtocolCompressionTest, EncoderStoresBelowTheThresholdAndCompressesFromIt) {
  struct Row {
    std::string name;
    Bytes data;
    std::size_t min_compress_length;
    bool compressed;
  };
  const std::vector<Row> rows = {
      {"one byte", Hex("0e"), kServerMinCompressLength, false},
      {"49 bytes", Pattern(49), kServerMinCompressLength, false},
      {"50 bytes", Pattern(50), kServerMinCompressLength, true},
      {"50 bytes, libmariadb's threshold", Pattern(50), kLibmariadbMinCompressLength, false},
      {"149 bytes, libmariadb's threshold", Pattern(149), kLibmariadbMinCompressLength, false},
      {"150 bytes, libmariadb's threshold", Pattern(150), kLibmariadbMinCompressLength, true},
      {"1000 bytes of noise: would grow, so stored", Noise(1000), kServerMinCompressLength, false},
      {"100000 bytes", Pattern(100000), kServerMinCompressLength, true},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const Bytes wire = Encode(row.data, 0, {.min_compress_length = row.min_compress_length});
    auto header = DecodeFrameHeader(wire);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->sequence_id, 0);
    EXPECT_EQ(header->payload_length, wire.size() - kFrameHeaderSize);
    if (row.compressed) {
      EXPECT_EQ(header->uncompressed_length, row.data.size());
      EXPECT_LT(header->payload_length, row.data.size());
    } else {
      EXPECT_EQ(header->uncompressed_length, 0U);
      EXPECT_EQ(ToHex(ByteView(wire).subspan(kFrameHeaderSize)), ToHex(row.data));
    }
    const Decoded decoded = DecodeAll(wire, wire.size());
    EXPECT_EQ(decoded.data, row.data);
  }
  EXPECT_TRUE(Encode(ByteView()).empty());
}

TEST(ProtocolCompressionTest, StoredFrameBytesAreExact) {
  // COM_PING as its own packet, stored: 5 bytes of packet in a 7-byte frame header.
  const Bytes ping = Frame(Hex("0e"), 0);
  EXPECT_EQ(ToHex(Encode(ping)), "05 00 00 00 00 00 00 01 00 00 00 0e");
  EXPECT_EQ(ToHex(Encode(ping, 7)), "05 00 00 07 00 00 00 01 00 00 00 0e");
}

TEST(ProtocolCompressionTest, RoundTripsSmallAndLargeStreams) {
  struct Row {
    std::string name;
    Bytes data;
    std::vector<std::size_t> frames;  // Uncompressed bytes per frame.
  };
  const std::vector<Row> rows = {
      {"one stored byte", Hex("01"), {1}},
      {"threshold", Pattern(kServerMinCompressLength), {kServerMinCompressLength}},
      {"16 KiB", Pattern(16384), {16384}},
      {"noise", Noise(70000), {70000}},
      {"one byte over a frame", Pattern(kMaxFrameLength + 1), {kMaxFrameLength, 1}},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const Bytes wire = Encode(row.data, 255);
    const Decoded decoded = DecodeAll(wire, 1 << 20);
    EXPECT_EQ(decoded.data, row.data);
    EXPECT_EQ(decoded.sizes, row.frames);
    for (std::size_t i = 0; i < decoded.headers.size(); ++i) {
      // Ids continue frame by frame and wrap from 255 to 0.
      EXPECT_EQ(decoded.headers[i].sequence_id, static_cast<std::uint8_t>(255 + i));
      EXPECT_LE(decoded.headers[i].payload_length, kMaxFrameLength);
    }
  }
}

TEST(ProtocolCompressionTest, APacketOf16MiBSpansFramesAndFramesDoNotFollowPackets) {
  // A 20 MiB COM_QUERY (two packet chunks) followed by a COM_PING, compressed in one call.
  Bytes query = Pattern(20 << 20);
  query[0] = 0x03;
  const Bytes stream = Concat({Frame(query, 0), Frame(Hex("0e"), 0)});
  const Bytes wire = Encode(stream);
  const Decoded decoded = DecodeAll(wire, 1 << 16);
  ASSERT_EQ(decoded.sizes.size(), 2U);
  EXPECT_EQ(decoded.sizes[0], kMaxFrameLength);

  PacketFramer framer(32 << 20);
  framer.Feed(decoded.data);
  auto first = framer.Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->payload, query);
  auto second = framer.Next();
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ(ToHex((*second)->payload), "0e");
  EXPECT_EQ(framer.buffered(), 0U);
}

TEST(ProtocolCompressionTest, SeveralPacketsInOneFrameAndOnePacketOverSeveral) {
  // A small result set (column count, column definition, EOF, row, EOF) as one stream, framed
  // as the server's 16 KiB write buffer would, or in frames of 7 bytes.
  const Bytes stream = Concat({Frame(Hex("01"), 1), Frame(Hex("03 64 65 66 00 00 00 01 61"), 2),
                               Frame(Hex("fe 00 00 02 00"), 3), Frame(Hex("01 31"), 4),
                               Frame(Hex("fe 00 00 02 00"), 5)});
  for (std::size_t frame_size : {std::size_t{16384}, std::size_t{7}}) {
    SCOPED_TRACE(frame_size);
    const Bytes wire = Encode(stream, 1, {.max_frame_data = frame_size});
    const Decoded decoded = DecodeAll(wire, 3);
    EXPECT_EQ(decoded.data, stream);
    EXPECT_EQ(decoded.sizes.size(), (stream.size() + frame_size - 1) / frame_size);
    PacketFramer framer(1024);
    framer.Feed(decoded.data);
    int packets = 0;
    for (auto next = framer.Next(); next.ok() && next->has_value(); next = framer.Next()) {
      ++packets;
    }
    EXPECT_EQ(packets, 5);
  }
}

TEST(ProtocolCompressionTest, DecodesByteAtATime) {
  const Bytes stream = Concat({Pattern(200), Noise(300), Hex("01 02 03")});
  EncoderOptions options{.max_frame_data = 100};
  const Bytes wire = Encode(stream, 0, options);
  const Decoded decoded = DecodeAll(wire, 1);
  EXPECT_EQ(decoded.data, stream);
  EXPECT_EQ(decoded.sizes, (std::vector<std::size_t>{100, 100, 100, 100, 100, 3}));

  // Nothing comes out of a partial header or a partial payload.
  CompressedDecoder decoder;
  for (std::size_t i = 0; i + 1 < wire.size() && i < kFrameHeaderSize + 10; ++i) {
    decoder.Feed(ByteView(wire).subspan(i, 1));
    auto next = decoder.Next();
    ASSERT_TRUE(next.ok());
    EXPECT_FALSE(next->has_value()) << "after " << i + 1 << " bytes";
  }
}

TEST(ProtocolCompressionTest, RefusesCorruptData) {
  const Bytes data = Pattern(1000);
  const Bytes good = Encode(data);
  ASSERT_FALSE(DecodeFrameHeader(good)->stored());

  struct Row {
    std::string name;
    Bytes wire;
    std::string fragment;
  };
  Bytes bad_zlib_header = good;
  bad_zlib_header[kFrameHeaderSize] ^= 0xff;
  Bytes bad_check = good;
  bad_check.back() ^= 0x01;
  Bytes flipped = good;
  flipped[kFrameHeaderSize + 4] ^= 0x55;
  // The payload is zlib data cut short, with the header's payload_length to match.
  ASSERT_GT(good.size(), kFrameHeaderSize + 6);
  Bytes truncated(good.begin(), good.end() - 6);
  truncated[0] = static_cast<std::uint8_t>(truncated.size() - kFrameHeaderSize);
  Bytes empty_payload = Hex("00 00 00 00 10 00 00");
  const std::vector<Row> rows = {
      {"bad zlib header", bad_zlib_header, "corrupt zlib data"},
      {"bad Adler-32 check", bad_check, "corrupt zlib data"},
      {"flipped deflate byte", flipped, ""},
      {"truncated zlib stream", truncated, "truncated"},
      {"compressed frame with an empty payload", empty_payload, "truncated"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto [message, fault] = DecodeError(row.wire);
    EXPECT_EQ(fault, DecodeFault::kCorrupt);
    EXPECT_FALSE(message.empty());
    EXPECT_NE(message.find(row.fragment), std::string::npos) << message;
  }
}

TEST(ProtocolCompressionTest, RefusesLengthsThatLie) {
  const Bytes data = Pattern(1000);
  Bytes deflated;
  ASSERT_TRUE(*DeflateIfSmaller(data, kDefaultZlibLevel, &deflated));
  auto frame = [&](std::uint32_t uncompressed_length, ByteView payload) {
    Bytes wire;
    EncodeFrameHeader({.payload_length = static_cast<std::uint32_t>(payload.size()),
                       .sequence_id = 0,
                       .uncompressed_length = uncompressed_length},
                      &wire);
    wire.insert(wire.end(), payload.begin(), payload.end());
    return wire;
  };
  struct Row {
    std::string name;
    Bytes wire;
    std::size_t limit;
    DecodeFault fault;
    std::string fragment;
  };
  const std::vector<Row> rows = {
      {"uncompressed length larger than the data", frame(1001, deflated), kMaxFrameLength,
       DecodeFault::kCorrupt, "inflates to 1000 bytes, but its header says 1001"},
      {"uncompressed length smaller than the data", frame(999, deflated), kMaxFrameLength,
       DecodeFault::kCorrupt, "more than the 999 bytes"},
      {"bytes after the zlib stream", frame(1000, Concat({deflated, Hex("00")})), kMaxFrameLength,
       DecodeFault::kCorrupt, "1 bytes after its zlib stream"},
      {"payload length over the limit", frame(0, Pattern(5000)), 4096, DecodeFault::kFrameTooLarge,
       "payload length 5000 exceeds the limit of 4096"},
      {"uncompressed length over the limit", frame(5000, deflated), 4096,
       DecodeFault::kFrameTooLarge, "uncompressed length 5000 exceeds the limit of 4096"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto [message, fault] = DecodeError(row.wire, row.limit);
    EXPECT_EQ(fault, row.fault);
    EXPECT_NE(message.find(row.fragment), std::string::npos) << message;
  }
  // The right lengths decode.
  EXPECT_EQ(DecodeAll(frame(1000, deflated), 100).data, data);
}

TEST(ProtocolCompressionTest, ATooLargeHeaderFailsBeforeItsPayloadArrives) {
  CompressedDecoder decoder(1 << 20);
  decoder.Feed(Hex("ff ff ff 00 00 00 00"));  // 16 MiB - 1 of stored payload announced.
  auto next = decoder.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(decoder.fault(), DecodeFault::kFrameTooLarge);
  EXPECT_EQ(decoder.capacity(), 0U);
  // A stopped decoder stays stopped and takes no more bytes.
  decoder.Feed(Pattern(100));
  EXPECT_EQ(decoder.buffered(), 0U);
  EXPECT_FALSE(decoder.Next().ok());
}

TEST(ProtocolCompressionTest, ReleasesLargeBuffersWhenDrained) {
  CompressedDecoder decoder;
  const Bytes wire = Encode(Pattern(1 << 20));
  decoder.Feed(wire);
  auto next = decoder.Next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->data.size(), std::size_t{1} << 20);
  EXPECT_GE(decoder.capacity(), std::size_t{1} << 20);
  auto none = decoder.Next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_LE(decoder.capacity(), 2 * CompressedDecoder::kIdleCapacity);
}

TEST(ProtocolCompressionTest, SequenceRunsAsThePeersRunIt) {
  // One command: the client's frame 0, the server's reply frames 1 and 2, then the client
  // continues within the command (LOCAL INFILE data) with 3; the next command starts at 0.
  CompressedSequence client;
  CompressedSequence server;
  client.Reset();
  server.Reset();
  const std::uint8_t command = client.TakeForSend();
  EXPECT_EQ(command, 0);
  EXPECT_TRUE(server.CheckReceived(command).ok());
  const std::uint8_t reply1 = server.TakeForSend();
  const std::uint8_t reply2 = server.TakeForSend();
  EXPECT_EQ(reply1, 1);
  EXPECT_EQ(reply2, 2);
  client.FollowReceived(reply1);
  client.FollowReceived(reply2);
  const std::uint8_t more = client.TakeForSend();
  EXPECT_EQ(more, 3);
  EXPECT_TRUE(server.CheckReceived(more).ok());
  client.Reset();
  server.Reset();
  EXPECT_EQ(client.TakeForSend(), 0);

  // The server's check refuses anything else and keeps its place; libmariadb follows.
  CompressedSequence strict;
  Status wrong = strict.CheckReceived(5);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("sequence id 5, expected 0"), std::string::npos);
  EXPECT_EQ(strict.next(), 0);
  CompressedSequence lenient;
  lenient.FollowReceived(5);
  EXPECT_EQ(lenient.next(), 6);
  lenient.FollowReceived(255);
  EXPECT_EQ(lenient.next(), 0);
}

TEST(ProtocolCompressionTest, DeflateAndInflateEdges) {
  Bytes out = Hex("aa");
  auto empty = DeflateIfSmaller(ByteView(), kDefaultZlibLevel, &out);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(*empty);
  auto grows = DeflateIfSmaller(Noise(100), kDefaultZlibLevel, &out);
  ASSERT_TRUE(grows.ok());
  EXPECT_FALSE(*grows);
  EXPECT_EQ(ToHex(out), "aa");
  auto bad_level = DeflateIfSmaller(Pattern(100), 42, &out);
  EXPECT_FALSE(bad_level.ok());
  EXPECT_EQ(ToHex(out), "aa");
  // Inflate appends, and leaves `out` alone on failure.
  Bytes deflated;
  ASSERT_TRUE(*DeflateIfSmaller(Pattern(100), 9, &deflated));
  EXPECT_TRUE(InflateExactly(deflated, 100, &out).ok());
  EXPECT_EQ(out.size(), 101U);
  EXPECT_FALSE(InflateExactly(deflated, 101, &out).ok());
  EXPECT_EQ(out.size(), 101U);
  EXPECT_FALSE(ZlibVersion().empty());
}

}  // namespace
}  // namespace longlink::protocol::compression
