// The compressed protocol codec against bytes recorded from the real mariadb CLI (libmariadb)
// and MariaDB 10.11 server: testdata/*.hex, made by testdata/record_compressed_session.py (see
// its docstring for the file format and how to record again).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

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
using testing::Str;
using testing::ToHex;

// One direction of a recorded session.
struct Recording {
  Bytes login;       // Plain packets, up to and including the login's final OK.
  Bytes compressed;  // Everything after: compressed-protocol frames.
};

Recording Load(const std::string& name) {
  std::ifstream file(std::string(LONGLINK_TESTDATA) + "/" + name);
  EXPECT_TRUE(file.good()) << "cannot open " << name;
  Recording recording;
  Bytes* part = &recording.login;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line == "--compressed--") {
      part = &recording.compressed;
      continue;
    }
    const Bytes bytes = Hex(line);
    part->insert(part->end(), bytes.begin(), bytes.end());
  }
  return recording;
}

std::vector<Packet> Packets(ByteView stream) {
  PacketFramer framer(64 << 20);
  framer.Feed(stream);
  std::vector<Packet> packets;
  for (auto next = framer.Next(); next.ok() && next->has_value(); next = framer.Next()) {
    packets.push_back(std::move(**next));
  }
  EXPECT_EQ(framer.buffered(), 0U) << "a partial packet at the end";
  return packets;
}

struct RecordedFrame {
  FrameHeader header;
  Bytes wire;  // Header and payload as recorded.
  Bytes data;  // Uncompressed.
};

// Decodes a recorded direction, feeding it `piece` bytes at a time.
std::vector<RecordedFrame> Frames(ByteView wire, std::size_t piece) {
  std::vector<RecordedFrame> frames;
  CompressedDecoder decoder;
  std::size_t at = 0;
  for (std::size_t offset = 0; offset < wire.size(); offset += piece) {
    decoder.Feed(wire.subspan(offset, std::min(piece, wire.size() - offset)));
    for (auto next = decoder.Next();; next = decoder.Next()) {
      EXPECT_TRUE(next.ok()) << next.error().message;
      if (!next.ok() || !next->has_value()) break;
      RecordedFrame frame;
      frame.header = *DecodeFrameHeader(wire.subspan(at));
      const std::size_t size = kFrameHeaderSize + frame.header.payload_length;
      frame.wire.assign(wire.begin() + static_cast<std::ptrdiff_t>(at),
                        wire.begin() + static_cast<std::ptrdiff_t>(at + size));
      at += size;
      EXPECT_EQ((*next)->sequence_id, frame.header.sequence_id);
      frame.data.assign((*next)->data.begin(), (*next)->data.end());
      frames.push_back(std::move(frame));
    }
  }
  EXPECT_EQ(at, wire.size()) << "a partial frame at the end";
  return frames;
}

Bytes Joined(const std::vector<RecordedFrame>& frames) {
  Bytes out;
  for (const auto& frame : frames) out.insert(out.end(), frame.data.begin(), frame.data.end());
  return out;
}

std::vector<int> Ids(const std::vector<RecordedFrame>& frames) {
  std::vector<int> ids;
  for (const auto& frame : frames) ids.push_back(frame.header.sequence_id);
  return ids;
}

// Our encoder, given a recorded frame's bytes and id with the sender's threshold, writes the
// same frame. zlib's output for a given level is the same only with the same zlib, so compressed
// frames are compared byte for byte only under the zlib the recording was made with (Debian
// 12's, on both ends); otherwise they must decode to the same bytes.
void ExpectSameFrames(const std::vector<RecordedFrame>& frames, std::size_t min_compress_length) {
  for (const auto& frame : frames) {
    SCOPED_TRACE("frame " + std::to_string(frame.header.sequence_id));
    CompressedSequence sequence;
    sequence.FollowReceived(static_cast<std::uint8_t>(frame.header.sequence_id - 1));
    Bytes ours;
    ASSERT_TRUE(
        AppendCompressed(frame.data, &sequence, &ours, {.min_compress_length = min_compress_length})
            .ok());
    auto header = DecodeFrameHeader(ours);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->stored(), frame.header.stored());
    if (frame.header.stored() || ZlibVersion() == "1.2.13") {
      EXPECT_EQ(ToHex(ours), ToHex(frame.wire));
    } else {
      EXPECT_EQ(Joined(Frames(ours, ours.size())), frame.data);
    }
  }
}

Bytes Repeat(char c, std::size_t count) { return Bytes(count, static_cast<std::uint8_t>(c)); }

// mariadb --compress -e "SELECT REPEAT('x', 100000)": a 100000-byte row over two frames.
TEST(ProtocolCompressionRecordedTest, BigRowFromTheServer) {
  const Recording recording = Load("big_row.server_to_client.hex");
  // Login: greeting (0) and OK (2) are plain; the greeting offers CLIENT_COMPRESS (bit 5) and
  // not zstd (bit 26).
  const auto login = Packets(recording.login);
  ASSERT_EQ(login.size(), 2U);
  EXPECT_EQ(login[1].payload[0], 0x00);
  EXPECT_EQ(login[1].sequence_id, 2);
  const Bytes& greeting = login[0].payload;
  const std::size_t version_end = static_cast<std::size_t>(
      std::find(greeting.begin() + 1, greeting.end(), 0) - greeting.begin());
  // caps_lo after: the version's NUL, conn_id (4), scramble (8), filler (1).
  const std::size_t caps_lo_at = version_end + 1 + 4 + 8 + 1;
  const std::uint32_t caps = static_cast<std::uint32_t>(greeting[caps_lo_at]) |
                             static_cast<std::uint32_t>(greeting[caps_lo_at + 1]) << 8 |
                             static_cast<std::uint32_t>(greeting[caps_lo_at + 5]) << 16 |
                             static_cast<std::uint32_t>(greeting[caps_lo_at + 6]) << 24;
  EXPECT_NE(caps & (1U << 5), 0U);
  EXPECT_EQ(caps & (1U << 26), 0U);

  for (std::size_t piece :
       {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{1} << 20}) {
    SCOPED_TRACE("fed " + std::to_string(piece) + " bytes at a time");
    const auto frames = Frames(recording.compressed, piece);
    // The reply's frames continue after the client's frame 0. The row packet starts in the first
    // frame (the server's 16 KiB write buffer) and ends in the second; the final EOF, 9 bytes,
    // is stored.
    EXPECT_EQ(Ids(frames), (std::vector<int>{1, 2, 3}));
    ASSERT_EQ(frames.size(), 3U);
    EXPECT_EQ(frames[0].data.size(), 16384U);
    EXPECT_EQ(frames[1].data.size(), 83685U);
    EXPECT_FALSE(frames[0].header.stored());
    EXPECT_FALSE(frames[1].header.stored());
    EXPECT_TRUE(frames[2].header.stored());

    const auto packets = Packets(Joined(frames));
    ASSERT_EQ(packets.size(), 5U);  // Column count, definition, EOF, row, EOF.
    // One column, and "metadata follows" (the CLI asks for MARIADB_CLIENT_CACHE_METADATA).
    EXPECT_EQ(ToHex(packets[0].payload), "01 01");
    EXPECT_EQ(packets[3].payload, Concat({Hex("fd a0 86 01"), Repeat('x', 100000)}));
    EXPECT_EQ(packets[4].payload[0], 0xfe);
    // Inside the frames the server numbers its packets on from the command's frame id.
    for (std::size_t i = 0; i < packets.size(); ++i) EXPECT_EQ(packets[i].sequence_id, i + 1);
  }
  ExpectSameFrames(Frames(recording.compressed, 1 << 20), kServerMinCompressLength);
}

TEST(ProtocolCompressionRecordedTest, BigRowFromTheClient) {
  const Recording recording = Load("big_row.client_to_server.hex");
  const auto login = Packets(recording.login);
  ASSERT_EQ(login.size(), 1U);  // The handshake response, plain.
  EXPECT_EQ(login[0].sequence_id, 1);
  const std::uint32_t caps = static_cast<std::uint32_t>(login[0].payload[0]) |
                             static_cast<std::uint32_t>(login[0].payload[1]) << 8;
  EXPECT_NE(caps & (1U << 5), 0U) << "the client asked for CLIENT_COMPRESS";

  const auto frames = Frames(recording.compressed, 1);
  // Two commands, each one stored frame (31 and 5 bytes, under libmariadb's 150): ids restart
  // at 0 per command, and so do the packet ids inside.
  EXPECT_EQ(Ids(frames), (std::vector<int>{0, 0}));
  const auto packets = Packets(Joined(frames));
  ASSERT_EQ(packets.size(), 2U);
  EXPECT_EQ(packets[0].payload, Concat({Hex("03"), Str("SELECT REPEAT('x', 100000)")}));
  EXPECT_EQ(packets[0].sequence_id, 0);
  EXPECT_EQ(ToHex(packets[1].payload), "01");  // COM_QUIT
  EXPECT_EQ(packets[1].sequence_id, 0);
  ExpectSameFrames(frames, kLibmariadbMinCompressLength);
}

// mariadb --compress -e "SELECT 1 AS a; SELECT '...' AS b; SELECT '...' AS c": three commands,
// the second 57 bytes (stored by libmariadb, which compresses from 150), the third 199 bytes
// (compressed); the server compresses its three small result sets (from 50 bytes), each a
// whole result set of five packets in one frame.
TEST(ProtocolCompressionRecordedTest, ThreeQueries) {
  const Recording to_server = Load("three_queries.client_to_server.hex");
  const Recording to_client = Load("three_queries.server_to_client.hex");
  const auto client_frames = Frames(to_server.compressed, 3);
  const auto server_frames = Frames(to_client.compressed, 3);
  EXPECT_EQ(Ids(client_frames), (std::vector<int>{0, 0, 0, 0}));
  EXPECT_EQ(Ids(server_frames), (std::vector<int>{1, 1, 1}));
  ASSERT_EQ(client_frames.size(), 4U);
  EXPECT_TRUE(client_frames[0].header.stored());
  EXPECT_TRUE(client_frames[1].header.stored());
  EXPECT_EQ(client_frames[1].data.size(), 57U);
  EXPECT_FALSE(client_frames[2].header.stored());
  EXPECT_EQ(client_frames[2].data.size(), 199U);
  EXPECT_TRUE(client_frames[3].header.stored());
  for (const auto& frame : server_frames) {
    EXPECT_FALSE(frame.header.stored());
    EXPECT_GE(frame.data.size(), kServerMinCompressLength);
    EXPECT_EQ(Packets(frame.data).size(), 5U) << "a whole result set in one frame";
  }

  // Replayed in order, the ids pass the server's check, command by command.
  CompressedSequence client;
  CompressedSequence server;
  for (std::size_t command = 0; command < 3; ++command) {
    SCOPED_TRACE("command " + std::to_string(command));
    client.Reset();
    server.Reset();
    EXPECT_EQ(client.TakeForSend(), client_frames[command].header.sequence_id);
    EXPECT_TRUE(server.CheckReceived(client_frames[command].header.sequence_id).ok());
    EXPECT_EQ(server.TakeForSend(), server_frames[command].header.sequence_id);
    client.FollowReceived(server_frames[command].header.sequence_id);
  }

  const auto queries = Packets(Joined(client_frames));
  ASSERT_EQ(queries.size(), 4U);
  EXPECT_EQ(queries[0].payload, Concat({Hex("03"), Str("SELECT 1 AS a")}));
  EXPECT_EQ(queries[2].payload.size(), 195U);
  ExpectSameFrames(client_frames, kLibmariadbMinCompressLength);
  ExpectSameFrames(server_frames, kServerMinCompressLength);
}

}  // namespace
}  // namespace longlink::protocol::compression
