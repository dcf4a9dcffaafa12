// ByteStream over a Unix socket pair: attached and detached states, moves, peeking and polling
// without consuming, a read after a detach and an attach on another loop, a rebind that keeps
// its own loop's registration.
#include "net/byte_stream.h"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

namespace longlink::net {
namespace {

// One end as an attached stream on `io`; the other as a bare descriptor (the peer).
struct Pair {
  explicit Pair(asio::io_context& io) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    Socket socket(io);
    socket.assign(asio::generic::stream_protocol(AF_UNIX, 0), fds[0]);
    stream = ByteStream(std::move(socket));
    peer = fds[1];
  }
  ~Pair() {
    if (peer >= 0) ::close(peer);
  }
  void PeerSends(const std::string& text) const {
    ASSERT_EQ(::write(peer, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  ByteStream stream;
  int peer = -1;
};

std::string Peeked(const ByteStream& stream, std::error_code& error) {
  std::array<std::uint8_t, 16> bytes{};
  const std::size_t n = stream.Peek(bytes, error);
  return std::string(reinterpret_cast<const char*>(bytes.data()), n);
}

TEST(ByteStream, DefaultIsClosed) {
  ByteStream stream;
  EXPECT_FALSE(stream.is_open());
  EXPECT_FALSE(stream.attached());
  EXPECT_EQ(stream.native_handle(), -1);
  EXPECT_FALSE(stream.PeerClosedOrSpoke());
  EXPECT_FALSE(stream.Detach());
  asio::io_context io;
  EXPECT_FALSE(stream.Attach(io.get_executor()));
  std::error_code error;
  Peeked(stream, error);
  EXPECT_TRUE(error);
}

TEST(ByteStream, KnowsWhetherItIsAUnixSocket) {
  asio::io_context io;
  Pair unix_pair(io);
  EXPECT_TRUE(unix_pair.stream.unix_socket());
  EXPECT_TRUE(unix_pair.stream.Detach());
  EXPECT_TRUE(unix_pair.stream.unix_socket());  // Detached too.

  asio::ip::tcp::acceptor listener(io,
                                   asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  Socket client(io);
  client.connect(asio::generic::stream_protocol::endpoint(listener.local_endpoint()));
  ByteStream tcp(std::move(client));
  EXPECT_FALSE(tcp.unix_socket());
  EXPECT_FALSE(ByteStream().unix_socket());
}

TEST(ByteStream, PeeksAndPollsWithoutConsuming) {
  asio::io_context io;
  Pair pair(io);
  ASSERT_TRUE(pair.stream.attached());
  EXPECT_FALSE(pair.stream.PeerClosedOrSpoke());
  std::error_code error;
  EXPECT_EQ(Peeked(pair.stream, error), "");
  EXPECT_EQ(error, std::errc::operation_would_block);

  pair.PeerSends("hello");
  EXPECT_TRUE(pair.stream.PeerClosedOrSpoke());
  EXPECT_EQ(Peeked(pair.stream, error), "hello");
  EXPECT_FALSE(error);
  EXPECT_EQ(Peeked(pair.stream, error), "hello");  // Still there.

  ::close(std::exchange(pair.peer, -1));
  EXPECT_TRUE(pair.stream.PeerClosedOrSpoke());
}

TEST(ByteStream, PeerClosedIsAnEmptyPeek) {
  asio::io_context io;
  Pair pair(io);
  ::close(std::exchange(pair.peer, -1));
  std::error_code error;
  EXPECT_EQ(Peeked(pair.stream, error), "");
  EXPECT_FALSE(error);
  EXPECT_TRUE(pair.stream.PeerClosedOrSpoke());
}

TEST(ByteStream, DetachesAndAttachesToAnotherLoop) {
  asio::io_context first;
  asio::io_context second;
  Pair pair(first);
  const int fd = pair.stream.native_handle();
  ASSERT_TRUE(pair.stream.Detach());
  EXPECT_TRUE(pair.stream.is_open());
  EXPECT_FALSE(pair.stream.attached());
  EXPECT_EQ(pair.stream.native_handle(), fd);  // Same connection, no loop.

  pair.PeerSends("ping");
  EXPECT_TRUE(pair.stream.PeerClosedOrSpoke());  // Works detached.

  ByteStream moved = std::move(pair.stream);
  EXPECT_FALSE(pair.stream.is_open());  // NOLINT(bugprone-use-after-move): moved from.
  ASSERT_TRUE(moved.Attach(second.get_executor()));
  EXPECT_TRUE(moved.attached());

  std::string got;
  asio::co_spawn(
      second,
      [&]() -> Awaitable<void> {
        std::array<char, 16> buffer{};
        auto [error, n] = co_await moved.async_read_some(asio::buffer(buffer), kNoThrow);
        if (!error) got.assign(buffer.data(), n);
        const std::string reply = "pong";
        auto [write_error, written] =
            co_await asio::async_write(moved, asio::buffer(reply), kNoThrow);
        (void)written;
        EXPECT_FALSE(write_error);
      },
      [](std::exception_ptr) {});
  second.run();
  EXPECT_EQ(got, "ping");
  std::array<char, 8> reply{};
  ASSERT_EQ(::read(pair.peer, reply.data(), reply.size()), 4);
  EXPECT_EQ(std::string(reply.data(), 4), "pong");
}

// What the loop's epoll set says of `fd`: its "tfd:" line in /proc/self/fdinfo of the epoll
// descriptor that watches it ("" if none does). The line holds the events and the loop's data
// for the registration, which a new registration would change.
std::string EpollEntry(int fd) {
  for (int epfd = 0; epfd < 1024; ++epfd) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
    FILE* file = std::fopen(path, "r");
    if (file == nullptr) continue;
    char line[256];
    std::string entry;
    while (std::fgets(line, sizeof line, file) != nullptr) {
      int target = -1;
      if (std::sscanf(line, "tfd: %d", &target) == 1 && target == fd) entry = line;
    }
    std::fclose(file);
    if (!entry.empty()) return entry;
  }
  return "";
}

TEST(ByteStream, RebindKeepsTheRegistrationOfItsOwnLoop) {
  asio::io_context first;
  asio::io_context second;
  Pair pair(first);
  const int fd = pair.stream.native_handle();
  EXPECT_TRUE(pair.stream.AttachedTo(first.get_executor()));
  EXPECT_FALSE(pair.stream.AttachedTo(second.get_executor()));

  // A wait for writability leaves the loop's registration asking for EPOLLOUT (Asio keeps
  // it): a registration made afresh would not.
  pair.stream.lowest_layer().async_wait(Socket::wait_write, [](std::error_code) {});
  first.run();
  const std::string registered = EpollEntry(fd);
  unsigned events = 0;
  ASSERT_EQ(std::sscanf(registered.c_str(), "tfd: %*d events: %x", &events), 1) << registered;
  ASSERT_NE(events & EPOLLOUT, 0U) << registered;
  ASSERT_TRUE(pair.stream.Rebind(first.get_executor()));  // Its own loop: nothing done.
  EXPECT_TRUE(pair.stream.AttachedTo(first.get_executor()));
  EXPECT_EQ(EpollEntry(fd), registered);

  ASSERT_TRUE(pair.stream.Rebind(second.get_executor()));  // Moved.
  EXPECT_TRUE(pair.stream.AttachedTo(second.get_executor()));
  EXPECT_FALSE(pair.stream.AttachedTo(first.get_executor()));
  EXPECT_EQ(pair.stream.native_handle(), fd);
  pair.PeerSends("ping");
  std::string got;
  asio::co_spawn(
      second,
      [&]() -> Awaitable<void> {
        std::array<char, 16> buffer{};
        auto [error, n] = co_await pair.stream.async_read_some(asio::buffer(buffer), kNoThrow);
        if (!error) got.assign(buffer.data(), n);
      },
      [](std::exception_ptr) {});
  second.run();
  EXPECT_EQ(got, "ping");

  ASSERT_TRUE(pair.stream.Detach());
  EXPECT_FALSE(pair.stream.AttachedTo(second.get_executor()));
  ASSERT_TRUE(pair.stream.Rebind(first.get_executor()));  // Detached: attached.
  EXPECT_TRUE(pair.stream.AttachedTo(first.get_executor()));

  pair.stream.Close();
  EXPECT_FALSE(pair.stream.Rebind(first.get_executor()));
  EXPECT_FALSE(ByteStream().Rebind(first.get_executor()));
  EXPECT_FALSE(ByteStream().AttachedTo(first.get_executor()));
}

TEST(ByteStream, TryWriteTakesWhatTheSocketTakesNow) {
  asio::io_context io;
  Pair pair(io);
  std::error_code error;
  const std::string head = "ab";
  const std::string tail = "cdef";
  const std::array<asio::const_buffer, 3> pieces = {asio::buffer(head), asio::const_buffer(),
                                                    asio::buffer(tail)};
  EXPECT_EQ(pair.stream.TryWrite(pieces, &error), 6u);
  EXPECT_FALSE(error);
  std::array<char, 8> got{};
  ASSERT_EQ(::read(pair.peer, got.data(), got.size()), 6);
  EXPECT_EQ(std::string(got.data(), 6), "abcdef");

  // A full socket takes nothing more, and that is not an error.
  const std::string chunk(64 * 1024, 'x');
  std::size_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::array<asio::const_buffer, 1> one = {asio::buffer(chunk)};
    const std::size_t n = pair.stream.TryWrite(one, &error);
    ASSERT_FALSE(error);
    total += n;
    if (n == 0) break;
  }
  EXPECT_GT(total, 0u);
  const std::array<asio::const_buffer, 1> one = {asio::buffer(chunk)};
  EXPECT_EQ(pair.stream.TryWrite(one, &error), 0u);
  EXPECT_FALSE(error);

  ::close(pair.peer);  // The peer gone: an error, not a signal.
  pair.peer = -1;
  pair.stream.TryWrite(one, &error);
  EXPECT_TRUE(error);
}

TEST(ByteStream, WriteAllFinishesWhatTheSocketCouldNotTakeAtOnce) {
  asio::io_context io;
  Pair pair(io);
  // More than a Unix socket pair buffers: part goes at once, the rest when the peer reads.
  const std::string big(4 * 1024 * 1024, 'y');
  const std::string small = "z";
  const std::array<asio::const_buffer, 2> pieces = {asio::buffer(big), asio::buffer(small)};
  std::size_t written = 0;
  std::error_code failure;
  asio::co_spawn(
      io,
      [&]() -> Awaitable<void> {
        auto write = WriteAll(pair.stream, pieces);
        auto [error, n] = co_await std::move(write);
        failure = error;
        written = n;
      },
      [](std::exception_ptr) {});
  std::size_t read = 0;
  std::string last;
  std::array<char, 65536> buffer{};
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (read < big.size() + small.size() && std::chrono::steady_clock::now() < give_up) {
    io.poll();
    const ssize_t n = ::recv(pair.peer, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n > 0) {
      read += static_cast<std::size_t>(n);
      last.assign(buffer.data() + n - 1, 1);
    }
  }
  io.run();
  EXPECT_FALSE(failure);
  EXPECT_EQ(written, big.size() + small.size());
  EXPECT_EQ(last, "z");
}

TEST(ByteStream, SendNowAndClose) {
  asio::io_context io;
  Pair pair(io);
  ASSERT_TRUE(pair.stream.Detach());
  const std::string quit = "bye";
  pair.stream.SendNow(std::span(reinterpret_cast<const std::uint8_t*>(quit.data()), quit.size()));
  pair.stream.Close();
  EXPECT_FALSE(pair.stream.is_open());
  std::array<char, 8> got{};
  ASSERT_EQ(::read(pair.peer, got.data(), got.size()), 3);
  EXPECT_EQ(std::string(got.data(), 3), "bye");
  EXPECT_EQ(::read(pair.peer, got.data(), got.size()), 0);  // Closed.
}

// A stream closed while attached (a client aborted while its session still runs) stays bound
// to its loop: a read or write still to come fails with bad_descriptor instead of touching a
// socket that is gone, and a read pending at the close ends (operation_aborted).
TEST(ByteStream, ClosedWhileAttachedFailsLaterIo) {
  asio::io_context io;
  Pair pair(io);
  std::array<std::uint8_t, 8> room{};
  std::error_code pending_error;
  pair.stream.async_read_some(asio::buffer(room),
                              [&](std::error_code error, std::size_t) { pending_error = error; });
  pair.stream.Close();
  EXPECT_FALSE(pair.stream.is_open());
  EXPECT_TRUE(pair.stream.attached());
  EXPECT_EQ(pair.stream.native_handle(), -1);
  EXPECT_FALSE(pair.stream.PeerClosedOrSpoke());
  EXPECT_FALSE(pair.stream.Detach());
  io.run();
  EXPECT_EQ(pending_error, asio::error::operation_aborted);

  std::error_code read_error;
  std::error_code write_error;
  bool read_done = false;
  bool write_done = false;
  pair.stream.async_read_some(asio::buffer(room), [&](std::error_code error, std::size_t) {
    read_error = error;
    read_done = true;
  });
  pair.stream.async_write_some(asio::buffer(room), [&](std::error_code error, std::size_t) {
    write_error = error;
    write_done = true;
  });
  io.restart();
  io.run();
  ASSERT_TRUE(read_done && write_done);
  EXPECT_EQ(read_error, asio::error::bad_descriptor);
  EXPECT_EQ(write_error, asio::error::bad_descriptor);
}

TEST(ByteStream, ShutdownEndsBothDirections) {
  asio::io_context io;
  Pair pair(io);
  pair.stream.Shutdown();
  std::array<char, 8> got{};
  EXPECT_EQ(::read(pair.peer, got.data(), got.size()), 0);
  EXPECT_TRUE(pair.stream.PeerClosedOrSpoke());  // Its own reads see the end.
}

}  // namespace
}  // namespace longlink::net
