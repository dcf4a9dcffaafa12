// ByteStream over TLS on loopback TCP, the two ends on two event loops (each on its own
// thread): handshakes both ways, 16 MiB each way at once through asio::async_read/async_write,
// a detach and an attach on the other loop mid-session, peeking and polling through TLS,
// verification failures (wrong CA, expired, wrong host) and their messages, client
// certificates, session resumption, the TLS 1.2 minimum, and a handshake deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <csignal>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/byte_stream.h"
#include "net/tls_context.h"
#include "run_both.h"
#include "test_pki.h"

namespace longlink::net {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

using testing::RunBoth;

struct Ends {
  ByteStream server;  // Attached to the server's loop.
  ByteStream client;  // Attached to the client's loop.
};

// A connected loopback TCP pair.
Ends ConnectPair(asio::io_context& server_io, asio::io_context& client_io) {
  using asio::ip::tcp;
  tcp::acceptor acceptor(server_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(client_io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
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

std::string Text(const std::vector<std::uint8_t>& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// Waits (up to a second) until `stream`'s socket is readable: bytes sent on loopback arrive
// at once, but not synchronously with the sender's write.
void WaitReadable(const ByteStream& stream) {
  pollfd p{.fd = stream.native_handle(), .events = POLLIN, .revents = 0};
  ::poll(&p, 1, 1000);
}

class TlsStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::signal(SIGPIPE, SIG_IGN);  // As the proxy does: OpenSSL writes with write(2).
    pki_ = new testing::TestPki();
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  static const testing::TestPki& pki() { return *pki_; }

  static TlsContextPtr Server(TlsServerSettings settings) {
    if (settings.cert_file.empty()) {
      settings.cert_file = pki().server_cert;
      settings.key_file = pki().server_key;
    }
    auto context = TlsContext::ForServer(settings);
    EXPECT_TRUE(context.ok()) << context.error().message;
    return context.ok() ? *context : nullptr;
  }
  static TlsContextPtr Server() { return Server(TlsServerSettings{}); }
  static TlsContextPtr Client(TlsClientSettings settings) {
    auto context = TlsContext::ForClient(settings);
    EXPECT_TRUE(context.ok()) << context.error().message;
    return context.ok() ? *context : nullptr;
  }
  static TlsContextPtr Client() {
    TlsClientSettings settings;
    settings.ca_file = pki().ca_cert;
    return Client(settings);
  }

  struct Outcome {
    Status server;
    Status client;
  };
  // Both handshakes, each on its loop.
  Outcome Handshake(Ends& ends, TlsContextPtr server, TlsContextPtr client,
                    std::string host = "127.0.0.1") {
    Outcome outcome;
    RunBoth(
        server_io_,
        [&]() -> Awaitable<void> {
          auto op = ends.server.HandshakeAsServer(server);
          outcome.server = co_await std::move(op);
        },
        client_io_,
        [&]() -> Awaitable<void> {
          auto op = ends.client.HandshakeAsClient(client, host);
          outcome.client = co_await std::move(op);
        });
    return outcome;
  }
  // Sends `text` from `from` and reads it whole at `to` (on their loops).
  std::string Say(ByteStream& from, asio::io_context& from_io, ByteStream& to,
                  asio::io_context& to_io, const std::string& text) {
    std::string got(text.size(), '\0');
    RunBoth(
        from_io,
        [&]() -> Awaitable<void> {
          auto op = asio::async_write(from, asio::buffer(text), kNoThrow);
          auto [error, n] = co_await std::move(op);
          EXPECT_FALSE(error) << error.message();
          EXPECT_EQ(n, text.size());
        },
        to_io,
        [&]() -> Awaitable<void> {
          auto op = asio::async_read(to, asio::buffer(got), kNoThrow);
          auto [error, n] = co_await std::move(op);
          EXPECT_FALSE(error) << error.message();
          got.resize(n);
        });
    return got;
  }

  static testing::TestPki* pki_;
  asio::io_context server_io_;
  asio::io_context client_io_;
};

testing::TestPki* TlsStreamTest::pki_ = nullptr;

TEST_F(TlsStreamTest, HandshakesAndMovesSixteenMebibytesEachWayAtOnce) {
  Ends ends = ConnectPair(server_io_, client_io_);
  const Outcome outcome = Handshake(ends, Server(), Client());
  ASSERT_TRUE(outcome.server.ok()) << outcome.server.error().message;
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.error().message;
  ASSERT_NE(ends.client.tls(), nullptr);
  EXPECT_EQ(ends.client.tls()->version(), "TLSv1.3");
  EXPECT_FALSE(ends.client.tls()->session_reused());
  EXPECT_FALSE(ends.client.tls()->cipher().empty());

  constexpr std::size_t kSize = 16 * 1024 * 1024;
  std::vector<std::uint8_t> up(kSize);
  std::vector<std::uint8_t> down(kSize);
  for (std::size_t i = 0; i < kSize; ++i) {
    up[i] = static_cast<std::uint8_t>(i * 7 + i / 65536);
    down[i] = static_cast<std::uint8_t>(i * 13 + 1);
  }
  std::vector<std::uint8_t> got_up(kSize);
  std::vector<std::uint8_t> got_down(kSize);
  // Each end writes and reads at the same time: two operations on one TLS session.
  auto write_then_read = [](ByteStream& stream, const std::vector<std::uint8_t>& out,
                            std::vector<std::uint8_t>& in) -> Awaitable<void> {
    auto executor = stream.get_executor();
    bool wrote = false;
    asio::co_spawn(
        executor,
        [&]() -> Awaitable<void> {
          auto op = asio::async_write(stream, asio::buffer(out), kNoThrow);
          auto [error, n] = co_await std::move(op);
          EXPECT_FALSE(error) << error.message();
          EXPECT_EQ(n, out.size());
          wrote = true;
        },
        [](std::exception_ptr) {});
    auto op = asio::async_read(stream, asio::buffer(in), kNoThrow);
    auto [error, n] = co_await std::move(op);
    EXPECT_FALSE(error) << error.message();
    EXPECT_EQ(n, in.size());
    (void)wrote;
  };
  RunBoth(
      server_io_, [&]() { return write_then_read(ends.server, down, got_up); }, client_io_,
      [&]() { return write_then_read(ends.client, up, got_down); });
  EXPECT_TRUE(got_up == up);
  EXPECT_TRUE(got_down == down);
}

TEST_F(TlsStreamTest, DetachAndAttachOnTheOtherLoopMidSession) {
  Ends ends = ConnectPair(server_io_, client_io_);
  const Outcome outcome = Handshake(ends, Server(), Client(), "localhost");
  ASSERT_TRUE(outcome.server.ok()) << outcome.server.error().message;
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.error().message;
  EXPECT_EQ(Say(ends.client, client_io_, ends.server, server_io_, "SELECT 1"), "SELECT 1");
  EXPECT_EQ(Say(ends.server, server_io_, ends.client, client_io_, "1"), "1");

  // Both ends change loops: the client's goes to the server's loop and the other way round.
  ASSERT_TRUE(ends.client.Detach());
  ASSERT_TRUE(ends.server.Detach());
  EXPECT_FALSE(ends.client.PeerClosedOrSpoke());
  ByteStream client = std::move(ends.client);
  ByteStream server = std::move(ends.server);
  ASSERT_NE(client.tls(), nullptr);  // The session travels with the stream.
  ASSERT_TRUE(client.Attach(server_io_.get_executor()));
  ASSERT_TRUE(server.Attach(client_io_.get_executor()));
  EXPECT_EQ(Say(client, server_io_, server, client_io_, "SELECT 2"), "SELECT 2");
  EXPECT_EQ(Say(server, client_io_, client, server_io_, "2"), "2");
  const std::string big(100000, 'x');
  EXPECT_EQ(Say(client, server_io_, server, client_io_, big), big);
}

TEST_F(TlsStreamTest, PeekAndPollThroughTls) {
  Ends ends = ConnectPair(server_io_, client_io_);
  const Outcome outcome = Handshake(ends, Server(), Client());
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.error().message;
  ByteStream& client = ends.client;
  std::array<std::uint8_t, 16> bytes{};
  std::error_code error;

  // TLS 1.3 tickets are waiting on the socket: records, but nothing to read.
  EXPECT_FALSE(client.PeerClosedOrSpoke());
  EXPECT_EQ(client.Peek(bytes, error), 0u);
  EXPECT_EQ(error, std::errc::operation_would_block);

  // The server speaks: the client sees it (detached too) without consuming it.
  RunBoth(
      server_io_,
      [&]() -> Awaitable<void> {
        const std::string hello = "hello";
        auto op = asio::async_write(ends.server, asio::buffer(hello), kNoThrow);
        auto [write_error, n] = co_await std::move(op);
        EXPECT_FALSE(write_error);
        (void)n;
      },
      client_io_, []() -> Awaitable<void> { co_return; });
  WaitReadable(client);
  EXPECT_TRUE(client.PeerClosedOrSpoke());
  ASSERT_TRUE(client.Detach());
  EXPECT_TRUE(client.PeerClosedOrSpoke());  // Now buffered in the TLS session.
  std::size_t n = client.Peek(bytes, error);
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + static_cast<long>(n)), "hello");
  n = client.Peek(std::span(bytes.data(), 3), error);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + static_cast<long>(n)), "hel");
  ASSERT_TRUE(client.Attach(client_io_.get_executor()));
  std::vector<std::uint8_t> got(5);
  RunBoth(
      server_io_, []() -> Awaitable<void> { co_return; }, client_io_,
      [&]() -> Awaitable<void> {
        auto op = asio::async_read(client, asio::buffer(got), kNoThrow);
        auto [read_error, read] = co_await std::move(op);
        EXPECT_FALSE(read_error);
        (void)read;
      });
  EXPECT_EQ(Text(got), "hello");
  EXPECT_FALSE(client.PeerClosedOrSpoke());
  client.Peek(bytes, error);
  EXPECT_EQ(error, std::errc::operation_would_block);

  // The server closes with a close_notify: an empty peek without an error, like an EOF.
  ends.server.Shutdown();
  ends.server.Close();
  WaitReadable(client);
  EXPECT_TRUE(client.PeerClosedOrSpoke());
  EXPECT_EQ(client.Peek(bytes, error), 0u);
  EXPECT_FALSE(error) << error.message();
  std::error_code read_error;
  RunBoth(
      server_io_, []() -> Awaitable<void> { co_return; }, client_io_,
      [&]() -> Awaitable<void> {
        auto op = client.async_read_some(asio::buffer(got), kNoThrow);
        auto [e, read] = co_await std::move(op);
        read_error = e;
        (void)read;
      });
  EXPECT_EQ(read_error, asio::error::eof);
}

TEST_F(TlsStreamTest, PeerClosedWithoutCloseNotifyAndSendNow) {
  Ends ends = ConnectPair(server_io_, client_io_);
  const Outcome outcome = Handshake(ends, Server(), Client());
  ASSERT_TRUE(outcome.client.ok()) << outcome.client.error().message;
  // Last words and a close_notify from the client, detached, as a pool closes an idle one.
  ASSERT_TRUE(ends.client.Detach());
  const std::string quit = "\x01\x00\x00\x00\x01";
  ends.client.SendNow(std::span(reinterpret_cast<const std::uint8_t*>(quit.data()), quit.size()));
  ends.client.Close();
  std::vector<std::uint8_t> got(quit.size());
  std::error_code eof;
  RunBoth(
      server_io_,
      [&]() -> Awaitable<void> {
        auto op = asio::async_read(ends.server, asio::buffer(got), kNoThrow);
        auto [e, n] = co_await std::move(op);
        EXPECT_FALSE(e) << e.message();
        (void)n;
        std::array<std::uint8_t, 4> more{};
        auto next = ends.server.async_read_some(asio::buffer(more), kNoThrow);
        auto [end, m] = co_await std::move(next);
        eof = end;
        (void)m;
      },
      client_io_, []() -> Awaitable<void> { co_return; });
  EXPECT_EQ(Text(got), quit);
  EXPECT_EQ(eof, asio::error::eof);

  // A peer that just goes (no close_notify) reads as closed too.
  Ends again = ConnectPair(server_io_, client_io_);
  ASSERT_TRUE(Handshake(again, Server(), Client()).client.ok());
  ::shutdown(again.server.native_handle(), SHUT_RDWR);
  WaitReadable(again.client);
  EXPECT_TRUE(again.client.PeerClosedOrSpoke());
  std::array<std::uint8_t, 4> bytes{};
  std::error_code error;
  EXPECT_EQ(again.client.Peek(bytes, error), 0u);
  EXPECT_FALSE(error) << error.message();
}

TEST_F(TlsStreamTest, VerificationFailuresSayWhy) {
  struct Case {
    std::string name;
    std::string cert;
    std::string key;
    std::string ca;
    std::string host;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"wrong CA",
       pki().server_cert,
       pki().server_key,
       pki().other_ca_cert,
       "127.0.0.1",
       {"the server's certificate failed verification", "unable to get local issuer certificate"}},
      {"expired",
       pki().expired_cert,
       pki().expired_key,
       pki().ca_cert,
       "127.0.0.1",
       {"the server's certificate failed verification", "certificate has expired"}},
      {"wrong IP",
       pki().wrong_host_cert,
       pki().wrong_host_key,
       pki().ca_cert,
       "127.0.0.1",
       {"IP address mismatch", "not issued for the IP address 127.0.0.1"}},
      {"wrong host name",
       pki().wrong_host_cert,
       pki().wrong_host_key,
       pki().ca_cert,
       "localhost",
       {"hostname mismatch", "not issued for the host name \"localhost\""}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TlsServerSettings server;
    server.cert_file = c.cert;
    server.key_file = c.key;
    TlsClientSettings client;
    client.ca_file = c.ca;
    Ends ends = ConnectPair(server_io_, client_io_);
    const Outcome outcome = Handshake(ends, Server(server), Client(client), c.host);
    ASSERT_FALSE(outcome.client.ok());
    for (const std::string& part : c.expected) {
      EXPECT_THAT(outcome.client.error().message, HasSubstr(part));
    }
    EXPECT_THAT(outcome.client.error().message, HasSubstr("TLS handshake failed: "));
    ASSERT_FALSE(outcome.server.ok());  // The client's alert.
    EXPECT_THAT(outcome.server.error().message, HasSubstr("alert"));

    // Without verification the same certificate is taken.
    client.verify = false;
    Ends unverified = ConnectPair(server_io_, client_io_);
    const Outcome taken = Handshake(unverified, Server(server), Client(client), c.host);
    EXPECT_TRUE(taken.client.ok()) << taken.client.error().message;
    EXPECT_TRUE(taken.server.ok()) << taken.server.error().message;
  }
}

TEST_F(TlsStreamTest, ClientCertificates) {
  TlsServerSettings server;
  server.client_ca_file = pki().ca_cert;
  const TlsContextPtr server_context = Server(server);

  // As MariaDB with ssl_ca: a client without a certificate is let in (an account's REQUIRE
  // X509 refuses it later), ...
  Ends without = ConnectPair(server_io_, client_io_);
  const Outcome plain = Handshake(without, server_context, Client());
  ASSERT_TRUE(plain.server.ok()) << plain.server.error().message;
  EXPECT_EQ(without.server.tls()->peer_certificate(), std::nullopt);

  TlsClientSettings client;
  client.ca_file = pki().ca_cert;
  client.cert_file = pki().client_cert;
  client.key_file = pki().client_key;
  Ends with = ConnectPair(server_io_, client_io_);
  const Outcome accepted = Handshake(with, server_context, Client(client));
  ASSERT_TRUE(accepted.server.ok()) << accepted.server.error().message;
  ASSERT_TRUE(accepted.client.ok()) << accepted.client.error().message;
  const auto peer = with.server.tls()->peer_certificate();
  ASSERT_TRUE(peer.has_value());
  EXPECT_TRUE(peer->verified);
  EXPECT_THAT(peer->subject, HasSubstr("CN="));
  EXPECT_THAT(peer->issuer, HasSubstr("CN="));

  // ... and one whose certificate the CA did not sign is refused in the handshake.
  TlsServerSettings strict;
  strict.client_ca_file = pki().other_ca_cert;
  Ends stranger = ConnectPair(server_io_, client_io_);
  const Outcome refused = Handshake(stranger, Server(strict), Client(client));
  ASSERT_FALSE(refused.server.ok());
  EXPECT_THAT(refused.server.error().message, HasSubstr("certificate"));
}

TEST_F(TlsStreamTest, SecondConnectResumesTheSession) {
  for (const TlsVersion version : {TlsVersion::kTls1_3, TlsVersion::kTls1_2}) {
    SCOPED_TRACE(std::string(TlsVersionName(version)));
    const TlsContextPtr server = Server();
    TlsClientSettings settings;
    settings.ca_file = pki().ca_cert;
    settings.max_version = version;
    const TlsContextPtr client = Client(settings);
    for (int round = 0; round < 3; ++round) {
      Ends ends = ConnectPair(server_io_, client_io_);
      const Outcome outcome = Handshake(ends, server, client);
      ASSERT_TRUE(outcome.client.ok()) << outcome.client.error().message;
      EXPECT_EQ(ends.client.tls()->version(), TlsVersionName(version));
      EXPECT_EQ(ends.client.tls()->session_reused(), round > 0);
      EXPECT_EQ(ends.server.tls()->session_reused(), round > 0);
      // A read, as a login does: TLS 1.3 tickets arrive after the handshake.
      EXPECT_EQ(Say(ends.server, server_io_, ends.client, client_io_, "greeting"), "greeting");
    }
    // Sessions are filed by host: another name starts afresh.
    Ends other = ConnectPair(server_io_, client_io_);
    ASSERT_TRUE(Handshake(other, server, client, "localhost").client.ok());
    EXPECT_FALSE(other.client.tls()->session_reused());
  }
}

TEST_F(TlsStreamTest, TlsOnePointTwoIsTheDefaultMinimum) {
  TlsClientSettings old_client;
  old_client.ca_file = pki().ca_cert;
  old_client.min_version = TlsVersion::kTls1_0;
  old_client.max_version = TlsVersion::kTls1_1;
  old_client.ciphers = "DEFAULT:@SECLEVEL=0";  // Lets OpenSSL 3 offer TLS 1.1 at all.
  Ends ends = ConnectPair(server_io_, client_io_);
  const Outcome outcome = Handshake(ends, Server(), Client(old_client));
  ASSERT_FALSE(outcome.server.ok());
  EXPECT_THAT(outcome.server.error().message, HasSubstr("unsupported protocol"));
  EXPECT_FALSE(outcome.client.ok());

  // The same client meets a server that allows TLS 1.1: the minimum was the reason.
  TlsServerSettings lenient;
  lenient.min_version = TlsVersion::kTls1_0;
  lenient.ciphers = "DEFAULT:@SECLEVEL=0";
  Ends allowed = ConnectPair(server_io_, client_io_);
  const Outcome passed = Handshake(allowed, Server(lenient), Client(old_client));
  ASSERT_TRUE(passed.client.ok()) << passed.client.error().message;
  EXPECT_EQ(allowed.client.tls()->version(), "TLSv1.1");
}

TEST_F(TlsStreamTest, HandshakeDeadline) {
  Ends ends = ConnectPair(server_io_, client_io_);  // The server end never answers.
  Status status;
  RunBoth(
      server_io_, []() -> Awaitable<void> { co_return; }, client_io_,
      [&]() -> Awaitable<void> {
        Deadline deadline(ends.client.lowest_layer(), std::chrono::milliseconds(100));
        auto op = ends.client.HandshakeAsClient(Client(), "127.0.0.1");
        status = co_await std::move(op);
      });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "TLS handshake failed: timed out");
}

TEST_F(TlsStreamTest, ContextOfTheWrongRoleIsRefused) {
  Ends ends = ConnectPair(server_io_, client_io_);
  const Outcome outcome = Handshake(ends, Client(), Server());
  ASSERT_FALSE(outcome.server.ok());
  EXPECT_EQ(outcome.server.error().message, "TLS handshake: not a server context");
  ASSERT_FALSE(outcome.client.ok());
  EXPECT_EQ(outcome.client.error().message, "TLS handshake: not a client context");
  EXPECT_EQ(ends.client.tls(), nullptr);  // Still plain.
}

}  // namespace
}  // namespace longlink::net
