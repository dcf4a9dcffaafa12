// net::CompressionLayer, the compressed protocol under ByteStream, without sockets: what one
// layer encodes, fed to another in arbitrary pieces (a byte at a time, random splits, whole),
// comes out of TakeDecoded exactly, whatever the sizes of the reads; frame ids follow the
// frames received and StartCommand starts them again at 0; each role's threshold for storing a
// frame; a broken frame is an error that stays; DecodeFirstFrame (the peek) sees the first
// frame only and consumes nothing; Trim frees the large buffers and keeps what is pending (a
// drained frame's buffers are freed by the decoder itself).
#include "net/compression_layer.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "protocol/compression/format.h"

namespace longlink::net {
namespace {

namespace compression = protocol::compression;
using protocol::ByteView;
using Bytes = protocol::Bytes;
using Role = CompressionLayer::Role;

// Compressible bytes: text that repeats.
Bytes Pattern(std::size_t size) {
  static constexpr char kText[] = "longlink pools MariaDB connections; ";
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::uint8_t>(kText[i % (sizeof kText - 1)]);
  }
  return out;
}

// Incompressible bytes.
Bytes Noise(std::size_t size, unsigned seed = 7) {
  std::mt19937 random(seed);
  Bytes out(size);
  for (auto& byte : out) byte = static_cast<std::uint8_t>(random());
  return out;
}

// The headers of the frames in `wire` (which must hold whole frames only).
std::vector<compression::FrameHeader> Headers(ByteView wire) {
  std::vector<compression::FrameHeader> headers;
  std::size_t at = 0;
  while (at < wire.size()) {
    const auto header = compression::DecodeFrameHeader(wire.subspan(at));
    EXPECT_TRUE(header.has_value()) << "a partial header at " << at;
    if (!header) break;
    headers.push_back(*header);
    at += compression::kFrameHeaderSize + header->payload_length;
  }
  EXPECT_EQ(at, wire.size()) << "the last frame is cut";
  return headers;
}

Bytes Encoded(CompressionLayer& layer, ByteView data) {
  const Status status = layer.Encode(data);
  EXPECT_TRUE(status.ok()) << status.error().message;
  return layer.outgoing();
}

// Feeds `bytes` to `layer` as ByteStream does (through ReceiveRoom, at most its size at once).
void Feed(CompressionLayer& layer, ByteView bytes) {
  while (!bytes.empty()) {
    const auto room = layer.ReceiveRoom();
    const std::size_t n = std::min(room.size(), bytes.size());
    std::memcpy(room.data(), bytes.data(), n);
    layer.Received(n);
    bytes = bytes.subspan(n);
  }
}

// Takes every decoded byte out of `layer`, in reads of `read_size` bytes (0: random sizes from
// `random`), appending to `out`. False on an error.
bool Drain(CompressionLayer& layer, std::size_t read_size, std::mt19937& random, Bytes& out) {
  static std::vector<std::uint8_t> buffer;
  buffer.resize(std::max<std::size_t>(read_size, 70000));
  for (;;) {
    const std::size_t want =
        read_size != 0 ? read_size
                       : std::uniform_int_distribution<std::size_t>(1, buffer.size())(random);
    auto taken = layer.TakeDecoded(std::span(buffer.data(), want));
    if (!taken.ok()) return false;
    if (*taken == 0) return true;
    EXPECT_LE(*taken, want);
    out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<long>(*taken));
  }
}

enum class Split { kByte, kRandom, kWhole };

struct RoundTripCase {
  std::string name;
  Bytes data;
  bool compressible;
  Split split;
  std::size_t read_size;  // 0: random.
};

TEST(CompressionLayer, EncodedBytesComeBackWhateverTheSplits) {
  const std::size_t kBig = compression::kMaxFrameLength + 100;  // Spans two frames.
  std::vector<RoundTripCase> cases = {
      {"1 byte, byte at a time", Pattern(1), true, Split::kByte, 1},
      {"49 bytes (stored by both roles)", Pattern(49), true, Split::kByte, 1},
      {"100 bytes (compressed toward clients)", Pattern(100), true, Split::kByte, 3},
      {"16 KiB compressible, byte at a time", Pattern(16 * 1024), true, Split::kByte, 0},
      {"64 KiB noise, byte at a time", Noise(64 * 1024), false, Split::kByte, 0},
      {"100000 bytes compressible, random splits", Pattern(100000), true, Split::kRandom, 0},
      {"1 MiB noise, random splits", Noise(1 << 20), false, Split::kRandom, 0},
      {"1 MiB noise, whole, reads of 16 KiB", Noise(1 << 20), false, Split::kWhole, 16 * 1024},
      {"16 MiB + 100 compressible, random splits", Pattern(kBig), true, Split::kRandom, 0},
      {"16 MiB + 100 noise, random splits", Noise(kBig, 3), false, Split::kRandom, 0},
      {"16 MiB + 100 noise, whole, one big read", Noise(kBig, 4), false, Split::kWhole, kBig},
  };
  std::mt19937 random(2024);
  for (const Role role : {Role::kFacingClient, Role::kFacingServer}) {
    for (const RoundTripCase& c : cases) {
      // The 16 MiB cases once (facing a server): deflating them is what takes time.
      if (role == Role::kFacingClient && c.data.size() > compression::kMaxFrameLength) continue;
      SCOPED_TRACE(c.name +
                   (role == Role::kFacingClient ? ", facing a client" : ", facing a server"));
      CompressionLayer sender(role);
      CompressionLayer receiver(role == Role::kFacingClient ? Role::kFacingServer
                                                            : Role::kFacingClient);
      const Bytes wire = Encoded(sender, c.data);
      const auto headers = Headers(wire);
      ASSERT_EQ(headers.size(), c.data.size() > compression::kMaxFrameLength ? 2u : 1u);
      for (std::size_t i = 0; i < headers.size(); ++i) EXPECT_EQ(headers[i].sequence_id, i);
      if (c.data.size() > 1000) {
        // Pattern shrinks a lot; noise is stored.
        if (c.compressible) {
          EXPECT_LT(wire.size(), c.data.size() / 20);
        } else {
          EXPECT_EQ(wire.size(), c.data.size() + headers.size() * compression::kFrameHeaderSize);
        }
      }

      // Where each frame ends on the wire, and how much data the frames up to it hold.
      std::vector<std::pair<std::size_t, std::size_t>> frame_ends;
      std::size_t wire_end = 0;
      std::size_t data_end = 0;
      for (const auto& header : headers) {
        wire_end += compression::kFrameHeaderSize + header.payload_length;
        data_end += header.stored() ? header.payload_length : header.uncompressed_length;
        frame_ends.emplace_back(wire_end, data_end);
      }

      Bytes got;
      std::size_t at = 0;
      while (at < wire.size()) {
        std::size_t piece = wire.size() - at;
        if (c.split == Split::kByte) piece = 1;
        if (c.split == Split::kRandom) {
          piece = std::min(piece, std::uniform_int_distribution<std::size_t>(1, 40000)(random));
        }
        Feed(receiver, ByteView(wire).subspan(at, piece));
        at += piece;
        ASSERT_TRUE(Drain(receiver, c.read_size, random, got));
        // Nothing of a frame comes out before it is whole, and all of it once it is.
        std::size_t whole = 0;
        bool at_frame_end = false;
        for (const auto& [end, data_size] : frame_ends) {
          if (end <= at) whole = data_size;
          at_frame_end = at_frame_end || end == at;
        }
        ASSERT_EQ(got.size(), whole) << "after " << at << " of " << wire.size() << " bytes";
        EXPECT_EQ(receiver.has_buffered(), !at_frame_end) << at;
      }
      EXPECT_FALSE(receiver.has_buffered());
      ASSERT_EQ(got.size(), c.data.size());
      EXPECT_TRUE(got == c.data);
    }
  }
}

TEST(CompressionLayer, NothingComesOutOfAPartialFrame) {
  CompressionLayer sender(Role::kFacingServer);
  CompressionLayer receiver(Role::kFacingClient);
  const Bytes data = Pattern(5000);
  const Bytes wire = Encoded(sender, data);
  std::vector<std::uint8_t> out(10000);
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    Feed(receiver, ByteView(wire).subspan(i, 1));
    auto taken = receiver.TakeDecoded(out);
    ASSERT_TRUE(taken.ok());
    ASSERT_EQ(*taken, 0u) << "after " << i + 1 << " of " << wire.size() << " bytes";
    EXPECT_TRUE(receiver.has_buffered());
  }
  Feed(receiver, ByteView(wire).last(1));
  auto taken = receiver.TakeDecoded(out);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(*taken, data.size());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin()));
  EXPECT_FALSE(receiver.has_buffered());
  // A read of 0 bytes takes nothing and is no error.
  Feed(receiver, Encoded(sender, Pattern(10)));
  taken = receiver.TakeDecoded(std::span(out.data(), 0));
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(*taken, 0u);
  EXPECT_TRUE(receiver.has_buffered());
}

TEST(CompressionLayer, EachRoleStoresSmallFramesAsItsPeerWould) {
  struct Case {
    Role role;
    std::size_t size;
    bool compressed;
  };
  // The server stores frames below 50 bytes, libmariadb below 150 (docs/COMPRESSION.md).
  const std::vector<Case> cases = {
      {Role::kFacingClient, 49, false},  {Role::kFacingClient, 50, true},
      {Role::kFacingClient, 149, true},  {Role::kFacingServer, 49, false},
      {Role::kFacingServer, 149, false}, {Role::kFacingServer, 150, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.size) +
                 (c.role == Role::kFacingClient ? " bytes facing a client" : " facing a server"));
    CompressionLayer layer(c.role);
    EXPECT_EQ(layer.role(), c.role);
    const Bytes wire = Encoded(layer, Pattern(c.size));
    const auto headers = Headers(wire);
    ASSERT_EQ(headers.size(), 1u);
    EXPECT_EQ(!headers[0].stored(), c.compressed);
    EXPECT_EQ(headers[0].uncompressed_length, c.compressed ? c.size : 0u);
  }
  // Noise is stored whatever its size: deflate would not make it shorter.
  CompressionLayer layer(Role::kFacingClient);
  EXPECT_TRUE(Headers(Encoded(layer, Noise(5000)))[0].stored());
  // Nothing to send: no frame at all.
  EXPECT_TRUE(Encoded(layer, {}).empty());
}

// The id of the first frame `layer` sends next.
std::uint8_t NextSentId(CompressionLayer& layer) {
  const auto headers = Headers(Encoded(layer, Pattern(10)));
  return headers.empty() ? 0xff : headers[0].sequence_id;
}

TEST(CompressionLayer, FrameIdsFollowTheFramesReceivedAndStartCommandResetsThem) {
  // As the proxy's side of a backend connection: a command, the server's reply, more data in
  // the same command (LOCAL INFILE), then the next command.
  CompressionLayer proxy(Role::kFacingServer);
  CompressionLayer server(Role::kFacingClient);
  std::mt19937 random(1);
  Bytes got;

  proxy.StartCommand();
  auto headers = Headers(Encoded(proxy, Pattern(300)));  // ids 0
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].sequence_id, 0);
  Feed(server, proxy.outgoing());
  ASSERT_TRUE(Drain(server, 0, random, got));

  // The server's reply continues at 1: three frames (1, 2, 3) fed to the proxy.
  Bytes reply;
  for (int i = 0; i < 3; ++i) {
    const Bytes frame = Encoded(server, Pattern(60 + static_cast<std::size_t>(i)));
    EXPECT_EQ(Headers(frame)[0].sequence_id, i + 1);
    reply.insert(reply.end(), frame.begin(), frame.end());
  }
  Feed(proxy, reply);
  ASSERT_TRUE(Drain(proxy, 0, random, got));
  EXPECT_EQ(NextSentId(proxy), 4);  // Follows the last frame received (3).

  // A peer's misnumbered frame is followed, not refused (as libmariadb does).
  CompressionLayer other(Role::kFacingClient);
  for (int i = 0; i < 41; ++i) Encoded(other, Pattern(5));  // ids 0..40
  Feed(proxy, Encoded(other, Pattern(5)));                  // id 41
  ASSERT_TRUE(Drain(proxy, 0, random, got));
  EXPECT_EQ(NextSentId(proxy), 42);

  // Ids wrap at 256.
  CompressionLayer wrapping(Role::kFacingClient);
  for (int i = 0; i < 255; ++i) Encoded(wrapping, Pattern(5));  // ids 0..254
  Feed(proxy, Encoded(wrapping, Pattern(5)));                   // id 255
  ASSERT_TRUE(Drain(proxy, 0, random, got));
  EXPECT_EQ(NextSentId(proxy), 0);

  proxy.StartCommand();
  EXPECT_EQ(NextSentId(proxy), 0);
  EXPECT_EQ(NextSentId(proxy), 1);
  proxy.StartCommand();
  headers = Headers(Encoded(proxy, Noise(compression::kMaxFrameLength + 1)));
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].sequence_id, 0);
  EXPECT_EQ(headers[1].sequence_id, 1);
}

Bytes Frame(std::uint8_t id, std::uint32_t uncompressed_length, ByteView payload) {
  Bytes out;
  compression::EncodeFrameHeader({.payload_length = static_cast<std::uint32_t>(payload.size()),
                                  .sequence_id = id,
                                  .uncompressed_length = uncompressed_length},
                                 &out);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// A compressed frame of `data`, as a peer sends it.
Bytes CompressedFrame(ByteView data) {
  CompressionLayer layer(Role::kFacingClient);
  Bytes wire = Encoded(layer, data);
  EXPECT_FALSE(Headers(wire)[0].stored());
  return wire;
}

struct BrokenCase {
  std::string name;
  Bytes wire;
};

std::vector<BrokenCase> BrokenFrames() {
  const Bytes data = Pattern(1000);
  Bytes good = CompressedFrame(data);
  Bytes flipped = good;
  flipped[compression::kFrameHeaderSize + 10] ^= 0x55;  // Inside the deflate data.
  Bytes bad_check = good;
  if (bad_check.size() > 20) bad_check[bad_check.size() - 1] ^= 0x01;  // The Adler-32.
  Bytes longer = good;  // uncompressed_length one more than the stream gives.
  longer[4] = static_cast<std::uint8_t>(data.size() + 1);
  longer[5] = static_cast<std::uint8_t>((data.size() + 1) >> 8);
  Bytes shorter = good;
  shorter[4] = static_cast<std::uint8_t>(data.size() - 1);
  shorter[5] = static_cast<std::uint8_t>((data.size() - 1) >> 8);
  const Bytes garbage = Pattern(40);
  return {
      {"corrupt deflate data", flipped},
      {"bad Adler-32 check", bad_check},
      {"uncompressed_length too long", longer},
      {"uncompressed_length too short", shorter},
      {"not zlib at all", Frame(0, 100, garbage)},
      {"an empty compressed payload", Frame(0, 100, {})},
  };
}

TEST(CompressionLayer, ABrokenFrameIsAnErrorThatStays) {
  std::mt19937 random(5);
  for (const BrokenCase& c : BrokenFrames()) {
    SCOPED_TRACE(c.name);
    CompressionLayer layer(Role::kFacingServer);
    // A good frame first: its data comes out, then the error.
    const Bytes good = Pattern(300);
    Bytes wire = CompressedFrame(good);
    wire.insert(wire.end(), c.wire.begin(), c.wire.end());
    Feed(layer, wire);
    std::vector<std::uint8_t> out(good.size());
    auto taken = layer.TakeDecoded(out);
    ASSERT_TRUE(taken.ok());
    EXPECT_EQ(*taken, good.size());
    taken = layer.TakeDecoded(out);
    ASSERT_FALSE(taken.ok());
    EXPECT_EQ(taken.error().message.rfind("compressed protocol: ", 0), 0u) << taken.error().message;
    // The stream is out of sync for good: later frames, even good ones, are refused too.
    Feed(layer, CompressedFrame(good));
    EXPECT_FALSE(layer.TakeDecoded(out).ok());
  }
}

TEST(CompressionLayer, DecodeFirstFrameLooksWithoutConsuming) {
  // Two frames (an ERR packet stored, then a compressed one) and the start of a third.
  const Bytes err = {0x1e, 0,   0,   1,   0xff, 0x87, 0x07, '#', '7', '0', '1', '0',
                     '0',  'C', 'o', 'n', 'n',  'e',  'c',  't', 'i', 'o', 'n', ' ',
                     'w',  'a', 's', ' ', 'k',  'i',  'l',  'l', 'e', 'd'};
  CompressionLayer server(Role::kFacingClient);
  Bytes wire = Encoded(server, err);
  ASSERT_TRUE(Headers(wire)[0].stored());
  const Bytes second_data = Pattern(500);
  const Bytes second = Encoded(server, second_data);
  ASSERT_FALSE(Headers(second)[0].stored());
  wire.insert(wire.end(), second.begin(), second.end());
  const std::size_t two_frames = wire.size();
  const Bytes third = Encoded(server, Pattern(300));
  wire.insert(wire.end(), third.begin(), third.begin() + 10);

  std::vector<std::uint8_t> out(1000);
  auto first = CompressionLayer::DecodeFirstFrame(wire, out);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(*first, err.size());  // The first frame only.
  EXPECT_TRUE(std::equal(err.begin(), err.end(), out.begin()));
  // A smaller room: the start of the frame's data.
  first = CompressionLayer::DecodeFirstFrame(wire, std::span(out.data(), 5));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 5u);
  // The compressed second frame, seen alone.
  auto seen = CompressionLayer::DecodeFirstFrame(ByteView(wire).subspan(err.size() + 7), out);
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(*seen, second_data.size());
  EXPECT_TRUE(std::equal(second_data.begin(), second_data.end(), out.begin()));
  // Not a whole frame (every strict prefix of one): nothing yet, no error.
  for (std::size_t n = 0; n < second.size(); ++n) {
    auto partial = CompressionLayer::DecodeFirstFrame(ByteView(second).first(n), out);
    ASSERT_TRUE(partial.ok()) << n;
    EXPECT_EQ(*partial, 0u) << n;
  }
  // Broken: an error.
  for (const BrokenCase& c : BrokenFrames()) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(CompressionLayer::DecodeFirstFrame(c.wire, out).ok());
  }

  // A layer that was fed the same bytes and peeked at still reads all of them, and peeking
  // left its frame ids alone.
  CompressionLayer layer(Role::kFacingServer);
  Feed(layer, ByteView(wire).first(two_frames));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(CompressionLayer::DecodeFirstFrame(wire, out).ok());
  std::mt19937 random(9);
  Bytes got;
  ASSERT_TRUE(Drain(layer, 0, random, got));
  Bytes expected = err;
  expected.insert(expected.end(), second_data.begin(), second_data.end());
  EXPECT_TRUE(got == expected);
  EXPECT_EQ(NextSentId(layer), 2);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kMallocCounted = false;  // ASan's allocator does not fill mallinfo2.
#else
constexpr bool kMallocCounted = true;
#endif

// Bytes the process has allocated with malloc (and so operator new), in use now.
std::size_t InUse() {
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

TEST(CompressionLayer, TrimFreesLargeBuffersAndKeepsWhatIsPending) {
  constexpr std::size_t kSize = 4 << 20;
  constexpr std::size_t kKept = 64 * 1024;  // compression_layer.cc's kKeptCapacity.
  const Bytes data = Noise(kSize);
  CompressionLayer sender(Role::kFacingServer);

  // The write side: a scattered write gathers, then encodes (both large).
  sender.ClearGathered();
  sender.AddPiece(ByteView(data).first(kSize / 2));
  sender.AddPiece(ByteView(data).subspan(kSize / 2));
  ASSERT_TRUE(sender.gathered() == data);
  const Bytes wire = Encoded(sender, sender.gathered());
  EXPECT_GE(sender.gathered().capacity(), kSize);
  EXPECT_GE(sender.outgoing().capacity(), kSize);
  sender.Trim();
  EXPECT_TRUE(sender.outgoing().empty());
  EXPECT_TRUE(sender.gathered().empty());
  EXPECT_LE(sender.outgoing().capacity(), kKept);
  EXPECT_LE(sender.gathered().capacity(), kKept);
  // Small buffers are not worth freeing: a small write after Trim still works.
  EXPECT_EQ(Headers(Encoded(sender, Pattern(200))).size(), 1u);
  sender.Trim();
  EXPECT_LE(sender.outgoing().capacity(), kKept);

  // The read side: a 4 MiB frame decoded, half taken, Trim: the rest is still there.
  std::vector<std::uint8_t> out(kSize);
  const std::size_t before = InUse();
  {
    CompressionLayer receiver(Role::kFacingClient);
    Feed(receiver, wire);
    auto taken = receiver.TakeDecoded(std::span(out.data(), kSize / 2));
    ASSERT_TRUE(taken.ok());
    ASSERT_EQ(*taken, kSize / 2);
    // The frame's data is held (once: a read copies out of the decoder) while it is pending.
    const std::size_t pending = InUse();
    if (kMallocCounted) {
      EXPECT_GE(pending, before + kSize) << "the layer held less than the pending frame";
      // The frame as received and its decoded bytes, not a second decoded copy.
      EXPECT_LT(pending, before + wire.size() + kSize + kKept) << "the layer held the frame twice";
    }
    receiver.Trim();
    EXPECT_TRUE(receiver.has_buffered());
    taken = receiver.TakeDecoded(std::span(out.data() + kSize / 2, kSize / 2));
    ASSERT_TRUE(taken.ok());
    ASSERT_EQ(*taken, kSize / 2);
    EXPECT_TRUE(out == data);
    taken = receiver.TakeDecoded(out);
    ASSERT_TRUE(taken.ok());
    EXPECT_EQ(*taken, 0u);
    EXPECT_FALSE(receiver.has_buffered());

    if (kMallocCounted) {
      // Taken whole: the decoder let its large buffers go (Trim has nothing more to free).
      const std::size_t held = InUse();
      receiver.Trim();
      const std::size_t trimmed = InUse();
      EXPECT_LE(held, before + 2 * kKept + 64 * 1024)
          << "held " << held - before << " bytes once drained, " << trimmed - before
          << " after Trim";
    }
    // It still works after Trim.
    Feed(receiver, Encoded(sender, Pattern(1000)));
    Bytes got;
    std::mt19937 random(3);
    ASSERT_TRUE(Drain(receiver, 0, random, got));
    EXPECT_TRUE(got == Pattern(1000));
  }
}

}  // namespace
}  // namespace longlink::net
