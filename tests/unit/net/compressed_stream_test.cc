// ByteStream with the compressed protocol (StartCompression) on loopback TCP, plain and TLS
// (the compression layer runs inside TLS), the two ends on two event loops: payloads small and
// of several MiB both ways at once with scattered writes, and what crossed the socket (TCP_INFO)
// is frames: a compressible payload crosses in far fewer bytes, noise in a few more; the frames
// a compressed end sends (read raw at the other end: ids, compressed or stored); frame ids
// through the stream (following the peer's, StartCommand, SendNow); Peek and PeerClosedOrSpoke
// on a compressed stream seeing a frame that holds a small packet (an unsolicited ERR), stored
// or compressed; a detach and an attach on the other loop mid-session.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <csignal>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/byte_stream.h"
#include "net/compression_layer.h"
#include "net/tls_context.h"
#include "protocol/compression/decoder.h"
#include "protocol/compression/format.h"
#include "run_both.h"
#include "tcp_bytes.h"
#include "test_pki.h"

namespace longlink::net {
namespace {

namespace compression = protocol::compression;
using protocol::ByteView;
using Bytes = protocol::Bytes;
using Role = CompressionLayer::Role;
using testing::TcpBytesReceived;

constexpr std::size_t MiB = 1024 * 1024;

using testing::RunBoth;

// Runs `work` on `io` alone.
void RunOne(asio::io_context& io, std::function<Awaitable<void>()> work) {
  asio::co_spawn(io, std::move(work), [](std::exception_ptr error) {
    if (error) ADD_FAILURE() << "a coroutine threw";
  });
  io.run();
  io.restart();
}

Awaitable<void> Nothing() { co_return; }

struct Ends {
  ByteStream server;  // The accepting end, on the server's loop: the proxy facing a client.
  ByteStream client;  // The connecting end, on the client's loop: the proxy facing a server.
};

Ends ConnectPair(asio::io_context& server_io, asio::io_context& client_io) {
  using asio::ip::tcp;
  tcp::acceptor acceptor(server_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(client_io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  // As MariaDB and the proxy do; and a frame written in two parts arrives at once.
  client.set_option(tcp::no_delay(true));
  server.set_option(tcp::no_delay(true));
  auto generic = [](asio::io_context& io, tcp::socket& socket) {
    Socket out(io);
    const tcp::endpoint local = socket.local_endpoint();
    out.assign(asio::generic::stream_protocol(local.protocol().family(), IPPROTO_TCP),
               socket.release());
    return out;
  };
  Ends ends;
  ends.server = ByteStream(generic(server_io, server));
  ends.client = ByteStream(generic(client_io, client));
  return ends;
}

// Compressible bytes: text that repeats.
Bytes Pattern(std::size_t size, std::size_t shift = 0) {
  static constexpr char kText[] = "SELECT seq, 'row of a compressible result' FROM seq; ";
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::uint8_t>(kText[(i + shift) % (sizeof kText - 1)]);
  }
  return out;
}

Bytes Noise(std::size_t size, unsigned seed) {
  std::mt19937 random(seed);
  Bytes out(size);
  for (auto& byte : out) byte = static_cast<std::uint8_t>(random());
  return out;
}

// `data` cut into `count` uneven pieces, with an empty one among them (a scattered write).
std::vector<asio::const_buffer> Pieces(const Bytes& data, std::size_t count) {
  std::vector<asio::const_buffer> pieces;
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t left = data.size() - at;
    const std::size_t n = i + 1 == count ? left : std::min(left, left / (count - i) + i * 7);
    pieces.emplace_back(data.data() + at, n);
    at += n;
    if (i == 0) pieces.emplace_back(data.data() + at, 0);
  }
  return pieces;
}

// An ERR packet (header included) as the server sends it unsolicited to an idle connection it
// KILLs: 1927 (70100) "Connection was killed", or a longer message.
Bytes ErrPacket(const std::string& message, std::uint16_t code = 1927) {
  Bytes payload = {0xff,
                   static_cast<std::uint8_t>(code),
                   static_cast<std::uint8_t>(code >> 8),
                   '#',
                   '7',
                   '0',
                   '1',
                   '0',
                   '0'};
  payload.insert(payload.end(), message.begin(), message.end());
  Bytes packet = {static_cast<std::uint8_t>(payload.size()),
                  static_cast<std::uint8_t>(payload.size() >> 8),
                  static_cast<std::uint8_t>(payload.size() >> 16), 0};
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

// The frames of `wire` decoded: their headers and their data joined.
struct Frames {
  std::vector<compression::FrameHeader> headers;
  Bytes data;
  bool ok = true;
};
Frames DecodeFrames(ByteView wire) {
  Frames frames;
  std::size_t at = 0;
  while (at < wire.size()) {
    const auto header = compression::DecodeFrameHeader(wire.subspan(at));
    if (!header) break;
    frames.headers.push_back(*header);
    at += compression::kFrameHeaderSize + header->payload_length;
  }
  compression::CompressedDecoder decoder;
  decoder.Feed(wire);
  for (;;) {
    auto frame = decoder.Next();
    if (!frame.ok()) {
      ADD_FAILURE() << frame.error().message;
      frames.ok = false;
      break;
    }
    if (!frame->has_value()) break;
    frames.data.insert(frames.data.end(), (*frame)->data.begin(), (*frame)->data.end());
  }
  if (at != wire.size() || decoder.buffered() != 0) {
    ADD_FAILURE() << "the wire ends inside a frame";
    frames.ok = false;
  }
  return frames;
}

// Waits (up to a second) until `stream`'s socket is readable.
void WaitReadable(const ByteStream& stream) {
  pollfd p{.fd = stream.native_handle(), .events = POLLIN, .revents = 0};
  ::poll(&p, 1, 1000);
}

enum class Transport { kPlain, kTls };

class CompressedStreamTest : public ::testing::TestWithParam<Transport> {
 protected:
  static void SetUpTestSuite() {
    std::signal(SIGPIPE, SIG_IGN);
    pki_ = new testing::TestPki();
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  bool tls() const { return GetParam() == Transport::kTls; }

  // A connected pair, TLS if the test's parameter says so. Compression is started on the ends
  // asked for: the server end facing a client, the client end facing a server.
  Ends Connect(bool compress_server = true, bool compress_client = true) {
    Ends ends = ConnectPair(server_io_, client_io_);
    if (tls()) {
      TlsServerSettings server_settings;
      server_settings.cert_file = pki_->server_cert;
      server_settings.key_file = pki_->server_key;
      auto server = TlsContext::ForServer(server_settings);
      TlsClientSettings client_settings;
      client_settings.ca_file = pki_->ca_cert;
      auto client = TlsContext::ForClient(client_settings);
      EXPECT_TRUE(server.ok() && client.ok());
      Status server_status;
      Status client_status;
      RunBoth(
          server_io_,
          [&]() -> Awaitable<void> {
            auto op = ends.server.HandshakeAsServer(*server);
            server_status = co_await std::move(op);
          },
          client_io_,
          [&]() -> Awaitable<void> {
            auto op = ends.client.HandshakeAsClient(*client, "127.0.0.1");
            client_status = co_await std::move(op);
          });
      EXPECT_TRUE(server_status.ok()) << server_status.error().message;
      EXPECT_TRUE(client_status.ok()) << client_status.error().message;
      EXPECT_NE(ends.client.tls(), nullptr);
    }
    // A plain exchange first, as the login is: the server's first write carries its TLS 1.3
    // tickets, which the client's read takes in; from then on a readable socket means data.
    EXPECT_TRUE(Send(ends.server, ends.client, Pattern(60)) == Pattern(60));
    EXPECT_TRUE(Send(ends.client, ends.server, Pattern(60)) == Pattern(60));
    EXPECT_FALSE(ends.client.PeerClosedOrSpoke());
    if (compress_server) ends.server.StartCompression(Role::kFacingClient);
    if (compress_client) ends.client.StartCompression(Role::kFacingServer);
    EXPECT_EQ(ends.server.compressed(), compress_server);
    EXPECT_EQ(ends.client.compressed(), compress_client);
    return ends;
  }

  // `data` from `from` (a scattered write of `pieces` pieces) to `to`, read whole.
  Bytes Send(ByteStream& from, ByteStream& to, const Bytes& data, std::size_t pieces = 1) {
    Bytes got(data.size());
    auto write = [&]() -> Awaitable<void> {
      const auto buffers = Pieces(data, pieces);
      auto op = asio::async_write(from, buffers, kNoThrow);
      auto [error, n] = co_await std::move(op);
      EXPECT_FALSE(error) << error.message();
      EXPECT_EQ(n, data.size());
    };
    auto read = [&]() -> Awaitable<void> {
      auto op = asio::async_read(to, asio::buffer(got), kNoThrow);
      auto [error, n] = co_await std::move(op);
      EXPECT_FALSE(error) << error.message();
      got.resize(n);
    };
    RunBoth(IoOf(from), write, IoOf(to), read);
    return got;
  }

  // Reads from `stream` until its peer closes: the bytes and how it ended.
  Bytes ReadToEnd(ByteStream& stream, std::error_code& end) {
    Bytes out;
    RunOne(IoOf(stream), [&]() -> Awaitable<void> {
      std::vector<std::uint8_t> buffer(64 * 1024);
      for (;;) {
        auto op = stream.async_read_some(asio::buffer(buffer), kNoThrow);
        auto [error, n] = co_await std::move(op);
        out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<long>(n));
        if (error) {
          end = error;
          co_return;
        }
      }
    });
    return out;
  }

  // Reads from the raw (uncompressed) `stream` until `layer` (the test's own codec for the
  // peer) decodes `size` bytes: the frames' raw bytes.
  Bytes ReadFrames(ByteStream& stream, CompressionLayer& layer, std::size_t size, Bytes& data) {
    Bytes wire;
    RunOne(IoOf(stream), [&]() -> Awaitable<void> {
      std::vector<std::uint8_t> buffer(64 * 1024);
      while (data.size() < size) {
        auto op = stream.async_read_some(asio::buffer(buffer), kNoThrow);
        auto [error, n] = co_await std::move(op);
        if (error) {
          ADD_FAILURE() << error.message();
          co_return;
        }
        wire.insert(wire.end(), buffer.begin(), buffer.begin() + static_cast<long>(n));
        ByteView received(buffer.data(), n);
        while (!received.empty()) {
          const auto room = layer.ReceiveRoom();
          const std::size_t m = std::min(room.size(), received.size());
          std::copy_n(received.begin(), m, room.begin());
          layer.Received(m);
          received = received.subspan(m);
        }
        std::vector<std::uint8_t> decoded(size);
        for (;;) {
          auto taken = layer.TakeDecoded(decoded);
          EXPECT_TRUE(taken.ok());
          if (!taken.ok() || *taken == 0) break;
          data.insert(data.end(), decoded.begin(), decoded.begin() + static_cast<long>(*taken));
        }
      }
    });
    return wire;
  }

  void WriteRaw(ByteStream& stream, ByteView bytes) {
    RunOne(IoOf(stream), [&]() -> Awaitable<void> {
      auto op = asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), kNoThrow);
      auto [error, n] = co_await std::move(op);
      EXPECT_FALSE(error) << error.message();
      (void)n;
    });
  }

  Bytes ReadExactly(ByteStream& stream, std::size_t size) {
    Bytes got(size);
    RunOne(IoOf(stream), [&]() -> Awaitable<void> {
      auto op = asio::async_read(stream, asio::buffer(got), kNoThrow);
      auto [error, n] = co_await std::move(op);
      EXPECT_FALSE(error) << error.message();
      got.resize(n);
    });
    return got;
  }

  asio::io_context& IoOf(ByteStream& stream) {
    return stream.get_executor() == asio::any_io_executor(server_io_.get_executor()) ? server_io_
                                                                                     : client_io_;
  }

  static testing::TestPki* pki_;
  asio::io_context server_io_;
  asio::io_context client_io_;
};

testing::TestPki* CompressedStreamTest::pki_ = nullptr;

INSTANTIATE_TEST_SUITE_P(Transports, CompressedStreamTest,
                         ::testing::Values(Transport::kPlain, Transport::kTls),
                         [](const ::testing::TestParamInfo<Transport>& param_info) {
                           return param_info.param == Transport::kPlain ? "Plain" : "Tls";
                         });

// What a direction's bytes should look like on the wire.
enum class Wire {
  kStored,   // One stored frame: the data and a 7-byte header (plain TCP: exactly).
  kSmaller,  // A compressed frame: fewer bytes than the data.
  kTiny,     // Compressible: under a twentieth of the data.
  kNoise,    // Stored frames: a few bytes more than the data.
};

struct Exchange {
  std::string name;
  Bytes up;    // Client to server.
  Bytes down;  // Server to client.
  std::size_t pieces;
  Wire up_wire;
  Wire down_wire;
};

TEST_P(CompressedStreamTest, PayloadsBothWaysAtOnceCrossAsFrames) {
  const std::vector<Exchange> cases = {
      {"a command and its reply", Pattern(13), Pattern(11, 5), 1, Wire::kStored, Wire::kStored},
      // The client end (facing a server) stores below 150 bytes as libmariadb does; the server
      // end (facing a client) compresses from 50 bytes on, as the server does.
      {"three pieces of 120 bytes", Pattern(120), Pattern(120, 3), 3, Wire::kStored,
       Wire::kSmaller},
      {"1 MiB compressible each way in 7 pieces", Pattern(MiB), Pattern(MiB, 1), 7, Wire::kTiny,
       Wire::kTiny},
      {"4 MiB compressible up, 3 MiB noise down", Pattern(4 * MiB), Noise(3 * MiB, 1), 5,
       Wire::kTiny, Wire::kNoise},
      {"2 MiB noise up, 6 MiB compressible down", Noise(2 * MiB, 2), Pattern(6 * MiB, 2), 2,
       Wire::kNoise, Wire::kTiny},
  };
  for (const Exchange& c : cases) {
    SCOPED_TRACE(c.name);
    Ends ends = Connect();
    const std::uint64_t server_before = TcpBytesReceived(ends.server.native_handle());
    const std::uint64_t client_before = TcpBytesReceived(ends.client.native_handle());
    Bytes got_up(c.up.size());
    Bytes got_down(c.down.size());
    // Each end writes and reads at the same time.
    auto write_and_read = [&c](ByteStream& stream, const Bytes& out, Bytes& in) -> Awaitable<void> {
      asio::co_spawn(
          stream.get_executor(),
          [&stream, &out, &c]() -> Awaitable<void> {
            const auto buffers = Pieces(out, c.pieces);
            auto op = asio::async_write(stream, buffers, kNoThrow);
            auto [error, n] = co_await std::move(op);
            EXPECT_FALSE(error) << error.message();
            EXPECT_EQ(n, out.size());
          },
          [](std::exception_ptr) {});
      auto op = asio::async_read(stream, asio::buffer(in), kNoThrow);
      auto [error, n] = co_await std::move(op);
      EXPECT_FALSE(error) << error.message();
      EXPECT_EQ(n, in.size());
    };
    RunBoth(
        server_io_, [&]() { return write_and_read(ends.server, c.down, got_up); }, client_io_,
        [&]() { return write_and_read(ends.client, c.up, got_down); });
    EXPECT_TRUE(got_up == c.up);
    EXPECT_TRUE(got_down == c.down);

    const std::uint64_t server_received =
        TcpBytesReceived(ends.server.native_handle()) - server_before;
    const std::uint64_t client_received =
        TcpBytesReceived(ends.client.native_handle()) - client_before;
    ASSERT_GT(server_received, 0u) << "TCP_INFO gives no tcpi_bytes_received";
    // TLS adds its records' overhead (22 bytes a record with TLS 1.3).
    const std::size_t overhead = tls() ? 22 : 0;
    auto check = [&](std::uint64_t received, const Bytes& data, Wire wire, const char* direction) {
      SCOPED_TRACE(direction);
      switch (wire) {
        case Wire::kStored:
          EXPECT_EQ(received, data.size() + compression::kFrameHeaderSize + overhead);
          break;
        case Wire::kSmaller:
          EXPECT_LT(received + 20, data.size() + overhead);
          break;
        case Wire::kTiny:
          EXPECT_LT(received, data.size() / 20) << "of " << data.size();
          break;
        case Wire::kNoise:  // A header more per frame (and TLS records).
          EXPECT_GT(received, data.size());
          EXPECT_LT(received, data.size() + data.size() / 50 + 1000);
          break;
      }
    };
    check(server_received, c.up, c.up_wire, "client to server");
    check(client_received, c.down, c.down_wire, "server to client");
  }
}

TEST_P(CompressedStreamTest, OneWriteOfMoreThanSixteenMebibytesSpansFrames) {
  // async_write_some itself (asio::async_write would cut it in 64 KiB writes): one call, the
  // whole buffer sequence in frames of at most 0xffffff bytes.
  for (const bool compressible : {true, false}) {
    SCOPED_TRACE(compressible ? "compressible" : "noise");
    const std::size_t size = compression::kMaxFrameLength + 4096;
    const Bytes data = compressible ? Pattern(size) : Noise(size, 11);
    Ends ends = Connect();
    const std::uint64_t before = TcpBytesReceived(ends.server.native_handle());
    Bytes got(size);
    RunBoth(
        client_io_,
        [&]() -> Awaitable<void> {
          const auto buffers = Pieces(data, 3);
          auto op = ends.client.async_write_some(buffers, kNoThrow);
          auto [error, n] = co_await std::move(op);
          EXPECT_FALSE(error) << error.message();
          EXPECT_EQ(n, size);
        },
        server_io_,
        [&]() -> Awaitable<void> {
          auto op = asio::async_read(ends.server, asio::buffer(got), kNoThrow);
          auto [error, n] = co_await std::move(op);
          EXPECT_FALSE(error) << error.message();
          EXPECT_EQ(n, size);
        });
    EXPECT_TRUE(got == data);
    const std::uint64_t received = TcpBytesReceived(ends.server.native_handle()) - before;
    if (compressible) {
      EXPECT_LT(received, size / 100);
    } else if (!tls()) {
      EXPECT_EQ(received, size + 2 * compression::kFrameHeaderSize);  // Two stored frames.
    }
    ends.client.TrimBuffers();
    ends.server.TrimBuffers();
    EXPECT_EQ(Send(ends.server, ends.client, Pattern(300)), Pattern(300));
  }
}

TEST_P(CompressedStreamTest, ACompressedEndSendsFrames) {
  // The server end is not compressed: it reads the frames the client end sends as they are.
  Ends ends = Connect(/*compress_server=*/false);
  const Bytes data = Pattern(MiB);
  RunBoth(
      client_io_,
      [&]() -> Awaitable<void> {
        ends.client.StartCommand();
        const auto buffers = Pieces(data, 4);
        auto op = asio::async_write(ends.client, buffers, kNoThrow);
        auto [error, n] = co_await std::move(op);
        EXPECT_FALSE(error) << error.message();
        EXPECT_EQ(n, data.size());
        ends.client.Shutdown();
      },
      server_io_, []() { return Nothing(); });
  std::error_code end;
  const Bytes wire = ReadToEnd(ends.server, end);
  EXPECT_EQ(end, asio::error::eof);
  EXPECT_LT(wire.size(), data.size() / 20);
  const Frames frames = DecodeFrames(wire);
  ASSERT_TRUE(frames.ok);
  EXPECT_TRUE(frames.data == data);
  ASSERT_GE(frames.headers.size(), 2u);
  for (std::size_t i = 0; i < frames.headers.size(); ++i) {
    EXPECT_EQ(frames.headers[i].sequence_id, i) << i;
    EXPECT_FALSE(frames.headers[i].stored()) << i;
  }
}

TEST_P(CompressedStreamTest, FrameIdsFollowThePeerAndStartCommandResetsThem) {
  // The client end as a backend connection; the server end raw, with the test's own codec in
  // the MariaDB server's place (kFacingClient stores below 50 bytes, as the server does).
  Ends ends = Connect(/*compress_server=*/false);
  CompressionLayer mariadb(Role::kFacingClient);

  // A command: frame 0 (stored: libmariadb stores below 150 bytes, and so does the client end).
  ends.client.StartCommand();
  const Bytes command = Pattern(20);
  RunBoth(
      client_io_,
      [&]() -> Awaitable<void> {
        auto op = asio::async_write(ends.client, asio::buffer(command), kNoThrow);
        auto [error, n] = co_await std::move(op);
        EXPECT_FALSE(error);
        (void)n;
      },
      server_io_, []() { return Nothing(); });
  Bytes data;
  Frames frames = DecodeFrames(ReadFrames(ends.server, mariadb, command.size(), data));
  EXPECT_TRUE(data == command);
  ASSERT_EQ(frames.headers.size(), 1u);
  EXPECT_EQ(frames.headers[0].sequence_id, 0);
  EXPECT_TRUE(frames.headers[0].stored());

  // The reply: frames 1, 2, 3, sent in one go.
  Bytes reply_wire;
  Bytes reply;
  for (int i = 0; i < 3; ++i) {
    const Bytes part =
        Pattern(100 + static_cast<std::size_t>(i) * 1000, static_cast<std::size_t>(i));
    ASSERT_TRUE(mariadb.Encode(part).ok());
    reply_wire.insert(reply_wire.end(), mariadb.outgoing().begin(), mariadb.outgoing().end());
    reply.insert(reply.end(), part.begin(), part.end());
  }
  WriteRaw(ends.server, reply_wire);
  EXPECT_TRUE(ReadExactly(ends.client, reply.size()) == reply);

  // More of the same command (LOCAL INFILE data): frame 4, compressed from 150 bytes on.
  const Bytes more = Pattern(5000);
  RunBoth(
      client_io_,
      [&]() -> Awaitable<void> {
        auto op = asio::async_write(ends.client, asio::buffer(more), kNoThrow);
        auto [error, n] = co_await std::move(op);
        EXPECT_FALSE(error);
        (void)n;
      },
      server_io_, []() { return Nothing(); });
  data.clear();
  frames = DecodeFrames(ReadFrames(ends.server, mariadb, more.size(), data));
  EXPECT_TRUE(data == more);
  ASSERT_EQ(frames.headers.size(), 1u);
  EXPECT_EQ(frames.headers[0].sequence_id, 4);
  EXPECT_FALSE(frames.headers[0].stored());

  // The next command starts at 0 again.
  ends.client.StartCommand();
  RunBoth(
      client_io_,
      [&]() -> Awaitable<void> {
        auto op = asio::async_write(ends.client, asio::buffer(command), kNoThrow);
        auto [error, n] = co_await std::move(op);
        EXPECT_FALSE(error);
        (void)n;
      },
      server_io_, []() { return Nothing(); });
  data.clear();
  frames = DecodeFrames(ReadFrames(ends.server, mariadb, command.size(), data));
  ASSERT_EQ(frames.headers.size(), 1u);
  EXPECT_EQ(frames.headers[0].sequence_id, 0);

  // SendNow (COM_QUIT before a close) is a command of its own: frame 0, though the counter is
  // at 1; then the end.
  const Bytes quit = {0x01, 0x00, 0x00, 0x00, 0x01};
  ends.client.SendNow(quit);
  ends.client.Close();
  std::error_code end;
  const Bytes wire = ReadToEnd(ends.server, end);
  EXPECT_EQ(end, asio::error::eof);
  frames = DecodeFrames(wire);
  ASSERT_EQ(frames.headers.size(), 1u);
  EXPECT_EQ(frames.headers[0].sequence_id, 0);
  EXPECT_TRUE(frames.headers[0].stored());
  EXPECT_TRUE(frames.data == quit);
  EXPECT_EQ(wire.size(), quit.size() + compression::kFrameHeaderSize);
}

TEST_P(CompressedStreamTest, SendNowSendsAFrameAttachedOrDetached) {
  for (const bool detached : {false, true}) {
    SCOPED_TRACE(detached ? "detached" : "attached");
    Ends ends = Connect();
    // Some traffic first, so that the counter is not at 0.
    EXPECT_TRUE(Send(ends.client, ends.server, Pattern(400)) == Pattern(400));
    EXPECT_TRUE(Send(ends.server, ends.client, Pattern(4000)) == Pattern(4000));
    if (detached) {
      ASSERT_TRUE(ends.client.Detach());
    }
    const Bytes quit = {0x01, 0x00, 0x00, 0x00, 0x01};
    ends.client.SendNow(quit);
    ends.client.Close();
    // The compressed server end reads it as a packet, then the end.
    std::error_code end;
    const Bytes got = ReadToEnd(ends.server, end);
    EXPECT_TRUE(got == quit);
    EXPECT_EQ(end, asio::error::eof);
  }
}

struct PeekCase {
  std::string name;
  Bytes packet;
  bool stored;
};

TEST_P(CompressedStreamTest, PeekAndPollSeeAFrameHoldingASmallPacket) {
  std::string long_message = "Connection was killed";
  while (long_message.size() < 200) long_message += ", connection was killed";
  const std::vector<PeekCase> cases = {
      {"stored (an ERR below 50 bytes)", ErrPacket("Connection was killed"), true},
      {"compressed (a longer ERR)", ErrPacket(long_message, 1053), false},
  };
  for (const PeekCase& c : cases) {
    SCOPED_TRACE(c.name);
    // The server end raw, the MariaDB server's frames made by the test's codec.
    Ends ends = Connect(/*compress_server=*/false);
    CompressionLayer mariadb(Role::kFacingClient);
    ByteStream& client = ends.client;
    std::array<std::uint8_t, 512> bytes{};
    std::error_code error;

    EXPECT_FALSE(client.PeerClosedOrSpoke());
    EXPECT_EQ(client.Peek(bytes, error), 0u);
    EXPECT_EQ(error, std::errc::operation_would_block);

    ASSERT_TRUE(mariadb.Encode(c.packet).ok());
    const Bytes frame = mariadb.outgoing();
    ASSERT_EQ(DecodeFrames(frame).headers.at(0).stored(), c.stored);
    if (!tls()) {
      // Half a frame: something arrived, but no packet to show yet. (Through TLS Peek sees
      // one record, so a frame cut in two records stays hidden; a server writes an ERR whole.)
      WriteRaw(ends.server, ByteView(frame).first(frame.size() / 2));
      WaitReadable(client);
      EXPECT_TRUE(client.PeerClosedOrSpoke());
      EXPECT_EQ(client.Peek(bytes, error), 0u);
      EXPECT_EQ(error, std::errc::operation_would_block);
      WriteRaw(ends.server, ByteView(frame).subspan(frame.size() / 2));
    } else {
      WriteRaw(ends.server, frame);
    }
    WaitReadable(client);
    ASSERT_TRUE(client.Detach());  // As the pool holds an idle connection.
    EXPECT_TRUE(client.PeerClosedOrSpoke());
    std::size_t n = client.Peek(bytes, error);
    EXPECT_FALSE(error) << error.message();
    ASSERT_EQ(n, c.packet.size());
    EXPECT_TRUE(std::equal(c.packet.begin(), c.packet.end(), bytes.begin()));
    n = client.Peek(std::span(bytes.data(), 5), error);  // A smaller room: the start.
    EXPECT_FALSE(error);
    EXPECT_EQ(n, 5u);
    EXPECT_TRUE(std::equal(c.packet.begin(), c.packet.begin() + 5, bytes.begin()));
    EXPECT_EQ(client.Peek(bytes, error), c.packet.size());  // Still there.
    EXPECT_TRUE(client.PeerClosedOrSpoke());

    // A read gets the same packet: peeking consumed nothing.
    ASSERT_TRUE(client.Attach(client_io_.get_executor()));
    EXPECT_TRUE(ReadExactly(client, c.packet.size()) == c.packet);
    EXPECT_FALSE(client.PeerClosedOrSpoke());
    EXPECT_EQ(client.Peek(bytes, error), 0u);
    EXPECT_EQ(error, std::errc::operation_would_block);

    // The server closes: an empty peek without an error, and a read sees the end.
    ends.server.Shutdown();
    ends.server.Close();
    WaitReadable(client);
    EXPECT_TRUE(client.PeerClosedOrSpoke());
    EXPECT_EQ(client.Peek(bytes, error), 0u);
    EXPECT_FALSE(error) << error.message();
    std::error_code end;
    EXPECT_TRUE(ReadToEnd(client, end).empty());
    EXPECT_EQ(end, asio::error::eof);
  }
}

TEST_P(CompressedStreamTest, PeekShowsTheFirstFrameOnlyAndABrokenOneIsAnError) {
  Ends ends = Connect(/*compress_server=*/false);
  CompressionLayer mariadb(Role::kFacingClient);
  const Bytes err = ErrPacket("Connection was killed");
  ASSERT_TRUE(mariadb.Encode(err).ok());
  Bytes wire = mariadb.outgoing();
  ASSERT_TRUE(mariadb.Encode(Pattern(300)).ok());
  wire.insert(wire.end(), mariadb.outgoing().begin(), mariadb.outgoing().end());
  WriteRaw(ends.server, wire);
  WaitReadable(ends.client);
  std::array<std::uint8_t, 512> bytes{};
  std::error_code error;
  EXPECT_EQ(ends.client.Peek(bytes, error), err.size());
  EXPECT_FALSE(error);

  // A frame whose zlib data is not: the peek says so (and PeerClosedOrSpoke: something came).
  Ends broken = Connect(/*compress_server=*/false);
  Bytes bad;
  compression::EncodeFrameHeader(
      {.payload_length = 20, .sequence_id = 0, .uncompressed_length = 100}, &bad);
  const Bytes garbage = Pattern(20);
  bad.insert(bad.end(), garbage.begin(), garbage.end());
  WriteRaw(broken.server, bad);
  WaitReadable(broken.client);
  EXPECT_TRUE(broken.client.PeerClosedOrSpoke());
  EXPECT_EQ(broken.client.Peek(bytes, error), 0u);
  EXPECT_EQ(error, std::errc::bad_message);
  // And a read fails.
  Bytes got(10);
  std::error_code read_error;
  RunOne(client_io_, [&]() -> Awaitable<void> {
    auto op = broken.client.async_read_some(asio::buffer(got), kNoThrow);
    auto [e, n] = co_await std::move(op);
    read_error = e;
    (void)n;
  });
  EXPECT_EQ(read_error, std::errc::bad_message);
}

TEST_P(CompressedStreamTest, PeerClosedOrSpokeSeesWhatTheLayerHolds) {
  // Two frames in one write: a read of the first frame's bytes takes both off the socket (into
  // the layer), and the stream still says there is something to read.
  Ends ends = Connect(/*compress_server=*/false);
  CompressionLayer mariadb(Role::kFacingClient);
  const Bytes first = Pattern(80);
  const Bytes second = Pattern(90, 4);
  Bytes wire;
  for (const Bytes* part : {&first, &second}) {
    ASSERT_TRUE(mariadb.Encode(*part).ok());
    wire.insert(wire.end(), mariadb.outgoing().begin(), mariadb.outgoing().end());
  }
  WriteRaw(ends.server, wire);
  WaitReadable(ends.client);
  EXPECT_TRUE(ReadExactly(ends.client, first.size()) == first);
  pollfd p{.fd = ends.client.native_handle(), .events = POLLIN, .revents = 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the socket still holds bytes: the test proves nothing";
  EXPECT_TRUE(ends.client.PeerClosedOrSpoke());
  EXPECT_TRUE(ReadExactly(ends.client, second.size()) == second);
  EXPECT_FALSE(ends.client.PeerClosedOrSpoke());
}

TEST_P(CompressedStreamTest, DetachAndAttachOnTheOtherLoopMidSession) {
  Ends ends = Connect();
  EXPECT_TRUE(Send(ends.client, ends.server, Pattern(100000)) == Pattern(100000));
  EXPECT_TRUE(Send(ends.server, ends.client, Noise(70000, 5)) == Noise(70000, 5));
  ASSERT_TRUE(ends.client.Detach());
  ASSERT_TRUE(ends.server.Detach());
  ByteStream client = std::move(ends.client);
  ByteStream server = std::move(ends.server);
  EXPECT_TRUE(client.compressed());  // The layer travels with the stream.
  EXPECT_TRUE(server.compressed());
  ASSERT_TRUE(client.Attach(server_io_.get_executor()));
  ASSERT_TRUE(server.Attach(client_io_.get_executor()));
  EXPECT_TRUE(Send(client, server, Pattern(3 * MiB), 3) == Pattern(3 * MiB));
  EXPECT_TRUE(Send(server, client, Pattern(20)) == Pattern(20));
}

}  // namespace
}  // namespace longlink::net
