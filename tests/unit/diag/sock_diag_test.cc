#include "diag/sock_diag.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <cstring>

namespace longlink::diag {
namespace {

// Appends one netlink message the way the kernel lays out a dump reply.
void Append(std::vector<std::uint8_t>* buf, std::uint16_t type, const void* payload,
            std::size_t len) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + len);
  h.nlmsg_type = type;
  std::size_t at = buf->size();
  buf->resize(at + NLMSG_ALIGN(h.nlmsg_len));
  std::memcpy(buf->data() + at, &h, sizeof h);
  if (len) std::memcpy(buf->data() + at + NLMSG_HDRLEN, payload, len);
}

inet_diag_msg V4Msg(std::uint8_t state, const char* src, std::uint16_t sport, const char* dst,
                    std::uint16_t dport, std::uint8_t timer, std::uint32_t expires,
                    std::uint32_t inode) {
  inet_diag_msg m{};
  m.idiag_family = AF_INET;
  m.idiag_state = state;
  m.idiag_timer = timer;
  m.idiag_expires = expires;
  m.idiag_inode = inode;
  m.idiag_uid = 1000;
  m.id.idiag_sport = htons(sport);
  m.id.idiag_dport = htons(dport);
  inet_pton(AF_INET, src, m.id.idiag_src);
  inet_pton(AF_INET, dst, m.id.idiag_dst);
  return m;
}

TEST(SockDiagTest, DecodesADumpReply) {
  std::vector<std::uint8_t> buf;
  auto tw = V4Msg(6, "10.0.0.9", 40000, "10.0.0.5", 3306, 3, 59000, 0);
  auto orphan = V4Msg(5, "10.0.0.9", 40001, "10.0.0.5", 6379, 3, 30000, 0);
  auto est = V4Msg(1, "10.0.0.9", 40002, "10.0.0.5", 3306, 0, 0, 4242);
  Append(&buf, SOCK_DIAG_BY_FAMILY, &tw, sizeof tw);
  Append(&buf, SOCK_DIAG_BY_FAMILY, &orphan, sizeof orphan);
  Append(&buf, SOCK_DIAG_BY_FAMILY, &est, sizeof est);
  SocketVector sink;
  auto& out = sink.sockets;
  bool done = false;
  ASSERT_TRUE(DecodeInetDiagReplies(buf, kAllStatesMask, &sink, &done).ok());
  EXPECT_FALSE(done);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].state, TcpState::kTimeWait);
  EXPECT_EQ(out[0].local.ToString(), "10.0.0.9:40000");
  EXPECT_EQ(out[0].remote.ToString(), "10.0.0.5:3306");
  EXPECT_EQ(out[0].expires_ms, 59000u);
  EXPECT_TRUE(out[1].IsFinWait2Orphan());
  EXPECT_EQ(out[2].inode, 4242u);
  EXPECT_EQ(out[2].uid, 1000u);
}

TEST(SockDiagTest, IPv6MappedAddressesFoldToIpv4) {
  inet_diag_msg m{};
  m.idiag_family = AF_INET6;
  m.idiag_state = 1;
  inet_pton(AF_INET6, "::ffff:127.0.0.1", m.id.idiag_src);
  inet_pton(AF_INET6, "2001:db8::5", m.id.idiag_dst);
  std::vector<std::uint8_t> buf;
  Append(&buf, SOCK_DIAG_BY_FAMILY, &m, sizeof m);
  SocketVector sink;
  auto& out = sink.sockets;
  bool done = false;
  ASSERT_TRUE(DecodeInetDiagReplies(buf, kAllStatesMask, &sink, &done).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].local.address.is_v4());
  EXPECT_EQ(out[0].remote.address.ToString(), "2001:db8::5");
}

TEST(SockDiagTest, FiltersStatesAndStopsAtDone) {
  std::vector<std::uint8_t> buf;
  auto tw = V4Msg(6, "10.0.0.9", 40000, "10.0.0.5", 3306, 3, 59000, 0);
  auto est = V4Msg(1, "10.0.0.9", 40002, "10.0.0.5", 3306, 0, 0, 4242);
  auto bogus = V4Msg(12, "10.0.0.9", 40003, "10.0.0.5", 3306, 0, 0, 1);  // NEW_SYN_RECV
  Append(&buf, SOCK_DIAG_BY_FAMILY, &tw, sizeof tw);
  Append(&buf, SOCK_DIAG_BY_FAMILY, &est, sizeof est);
  Append(&buf, SOCK_DIAG_BY_FAMILY, &bogus, sizeof bogus);
  int zero = 0;
  Append(&buf, NLMSG_DONE, &zero, sizeof zero);
  SocketVector sink;
  auto& out = sink.sockets;
  bool done = false;
  ASSERT_TRUE(DecodeInetDiagReplies(buf, StateBit(TcpState::kTimeWait), &sink, &done).ok());
  EXPECT_TRUE(done);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].state, TcpState::kTimeWait);
}

TEST(SockDiagTest, DecodesAnswersToTheOlderRequestToo) {
  // TCPDIAG_GETSOCK answers carry the request's type; anything else is skipped.
  std::vector<std::uint8_t> buf;
  auto tw = V4Msg(6, "10.0.0.9", 40000, "10.0.0.5", 3306, 3, 59000, 0);
  Append(&buf, TCPDIAG_GETSOCK, &tw, sizeof tw);
  Append(&buf, DCCPDIAG_GETSOCK, &tw, sizeof tw);
  Append(&buf, SOCK_DIAG_BY_FAMILY, &tw, sizeof tw);
  SocketVector sink;
  bool done = false;
  ASSERT_TRUE(DecodeInetDiagReplies(buf, kAllStatesMask, &sink, &done).ok());
  EXPECT_EQ(sink.sockets.size(), 2u);
}

TEST(SockDiagTest, ReportsKernelErrors) {
  std::vector<std::uint8_t> buf;
  nlmsgerr e{};
  e.error = -ENOENT;
  Append(&buf, NLMSG_ERROR, &e, sizeof e);
  SocketVector sink;
  bool done = false;
  auto status = DecodeInetDiagReplies(buf, kAllStatesMask, &sink, &done);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("No such file"), std::string::npos);
}

TEST(SockDiagTest, EveryTruncationFailsCleanlyOrYieldsWholeMessages) {
  std::vector<std::uint8_t> buf;
  auto tw = V4Msg(6, "10.0.0.9", 40000, "10.0.0.5", 3306, 3, 59000, 0);
  Append(&buf, SOCK_DIAG_BY_FAMILY, &tw, sizeof tw);
  Append(&buf, SOCK_DIAG_BY_FAMILY, &tw, sizeof tw);
  for (std::size_t n = 0; n < buf.size(); ++n) {
    SocketVector sink;
    auto& out = sink.sockets;
    bool done = false;
    auto status = DecodeInetDiagReplies({buf.data(), n}, kAllStatesMask, &sink, &done);
    EXPECT_LE(out.size(), 2u);
    // A cut inside a message is an error unless it leaves less than a header.
    std::size_t one = NLMSG_ALIGN(NLMSG_HDRLEN + sizeof tw);
    std::size_t tail = n % one;
    if (tail >= sizeof(nlmsghdr)) {
      EXPECT_FALSE(status.ok()) << n;
    }
  }
}

// A listening socket of the test process (in its own netns), on an ephemeral port.
struct Listener {
  int fd = -1;
  std::uint16_t port = 0;
  explicit Listener(int family) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_addr = in6addr_loopback;
    auto* addr =
        family == AF_INET ? reinterpret_cast<sockaddr*>(&v4) : reinterpret_cast<sockaddr*>(&v6);
    socklen_t len = family == AF_INET ? sizeof v4 : sizeof v6;
    fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, addr, len) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, addr, &len) != 0) {
      return;
    }
    port = ntohs(family == AF_INET ? v4.sin_port : v6.sin6_port);
  }
  ~Listener() {
    if (fd >= 0) close(fd);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  bool ok() const { return port != 0; }
};

bool Lists(const std::vector<SocketRecord>& sockets, const Listener& l, bool v4) {
  for (const auto& s : sockets) {
    if (s.local.port == l.port && s.inode != 0 && s.local.address.is_v4() == v4) return true;
  }
  return false;
}

// The test process's own netns: its listeners must show up in a LISTEN dump, of their family
// or of both (AF_UNSPEC, one walk), and nothing but listeners.
TEST(SockDiagTest, DumpsTheRealKernel) {
  Listener v4(AF_INET), v6(AF_INET6);
  ASSERT_TRUE(v4.ok());
  for (int family : {AF_INET, AF_INET6, AF_UNSPEC}) {
    SCOPED_TRACE(family);
    if (family == AF_INET6 && !v6.ok()) continue;  // no IPv6 here
    SocketVector sink;
    auto status = DumpTcpSockets(family, StateBit(TcpState::kListen), &sink);
    if (!status.ok()) {
      GTEST_SKIP() << "netlink sock_diag unavailable here: " << status.error().message;
    }
    EXPECT_EQ(Lists(sink.sockets, v4, true), family != AF_INET6);
    if (v6.ok()) {
      EXPECT_EQ(Lists(sink.sockets, v6, false), family != AF_INET);
    }
    for (const auto& s : sink.sockets) EXPECT_EQ(s.state, TcpState::kListen);
  }
}

}  // namespace
}  // namespace longlink::diag
