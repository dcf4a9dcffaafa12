// net::CloseAfterPeer over TCP loopback: the stream stays open until its peer closes its end
// (so the peer, which closed first, keeps the TIME_WAIT), bytes that arrive meanwhile are
// dropped, a silent peer is closed on after the timeout, and without an executor the close is
// immediate.
#include "net/close_after_peer.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace longlink::net {
namespace {

using namespace std::chrono_literals;

// A connected TCP pair on loopback: `stream` (the proxy's end, detached) and `peer`, a plain
// descriptor (the server's end).
struct TcpPair {
  TcpPair() {
    asio::io_context setup;
    asio::ip::tcp::acceptor listener(setup,
                                     asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    asio::ip::tcp::socket client(setup);
    client.connect(listener.local_endpoint());
    asio::ip::tcp::socket accepted = listener.accept();
    peer_port = accepted.local_endpoint().port();
    proxy_port = client.local_endpoint().port();
    peer = accepted.release();
    Socket socket(setup);
    socket.assign(asio::generic::stream_protocol(AF_INET, IPPROTO_TCP), client.release());
    stream = ByteStream(std::move(socket));
    EXPECT_TRUE(stream.Detach());
  }
  ~TcpPair() {
    if (peer >= 0) ::close(peer);
  }
  // What the peer reads now without waiting: "eof", "nothing" or the bytes.
  std::string PeerReads() const {
    char bytes[64];
    const ssize_t n = ::recv(peer, bytes, sizeof bytes, MSG_DONTWAIT);
    if (n == 0) return "eof";
    if (n < 0) return "nothing";
    return std::string(bytes, static_cast<std::size_t>(n));
  }
  ByteStream stream;
  int peer = -1;
  unsigned short peer_port = 0;
  unsigned short proxy_port = 0;
};

// Runs `io` for `time` (its handlers and timers).
void RunFor(asio::io_context& io, std::chrono::milliseconds time) {
  io.restart();
  io.run_for(time);
}

// Whether a TIME_WAIT socket with local port `port` is in /proc/net/tcp (loopback, IPv4).
bool TimeWaitOn(unsigned short port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // The header.
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    const unsigned long local_port = std::stoul(local.substr(local.find(':') + 1), nullptr, 16);
    if (local_port == port && state == "06") return true;
  }
  return false;
}

TEST(CloseAfterPeer, ClosesOnlyAfterThePeerHasClosedItsEnd) {
  asio::io_context io;
  TcpPair pair;
  CloseAfterPeer(std::move(pair.stream), io.get_executor(), 10s);
  RunFor(io, 50ms);
  EXPECT_EQ(pair.PeerReads(), "nothing");                 // Still open: no end seen.
  ASSERT_EQ(::send(pair.peer, "late reply", 10, 0), 10);  // Dropped.
  RunFor(io, 50ms);
  EXPECT_EQ(pair.PeerReads(), "nothing");
  ASSERT_EQ(::shutdown(pair.peer, SHUT_WR), 0);  // The server closes first.
  RunFor(io, 200ms);
  EXPECT_EQ(pair.PeerReads(), "eof");  // Then the stream was closed.
  ::close(pair.peer);
  pair.peer = -1;
  // The side that closed first keeps the TIME_WAIT: the peer's, not this end's.
  EXPECT_TRUE(TimeWaitOn(pair.peer_port));
  EXPECT_FALSE(TimeWaitOn(pair.proxy_port));
}

TEST(CloseAfterPeer, ClosesAfterTheTimeoutIfThePeerStaysSilent) {
  asio::io_context io;
  TcpPair pair;
  CloseAfterPeer(std::move(pair.stream), io.get_executor(), 100ms);
  RunFor(io, 30ms);
  EXPECT_EQ(pair.PeerReads(), "nothing");
  RunFor(io, 300ms);
  EXPECT_EQ(pair.PeerReads(), "eof");
}

TEST(CloseAfterPeer, ClosesAtOnceWithoutAnExecutor) {
  TcpPair pair;
  CloseAfterPeer(std::move(pair.stream), asio::any_io_executor(), 10s);
  EXPECT_EQ(pair.PeerReads(), "eof");
}

}  // namespace
}  // namespace longlink::net
