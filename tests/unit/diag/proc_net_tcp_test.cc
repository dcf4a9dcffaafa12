#include "diag/proc_net_tcp.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace longlink::diag {
namespace {

// Recorded from a Linux 6.x host; the last lines are a TIME_WAIT and a FIN_WAIT2 orphan
// (both time-wait mini-sockets: timer 3, inode 0).
constexpr char kTcp4[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 "
    "31337 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0500000A:9C40 0600000A:0CEA 01 00000000:00000000 02:000AFC61 00000000  1000        0 "
    "424242 2 0000000000000000 20 4 30 10 -1\n"
    "   2: 0100007F:9C41 0100007F:0CEA 06 00000000:00000000 03:00001770 00000000     0        0 0 "
    "3 0000000000000000\n"
    "   3: 0100007F:9C42 0100007F:18EB 05 00000000:00000000 03:00000BB8 00000000     0        0 0 "
    "3 0000000000000000\n";

constexpr char kTcp6[] =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000001000000:0CEA 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0000000000000000FFFF00000100007F:0CEA 0000000000000000FFFF00000200007F:A000 08 "
    "00000000:00000000 00:00000000 00000000    33        0 888 1 0000000000000000 20 4 0 10 -1\n";

TEST(ProcNetTcpTest, ParsesIpv4Lines) {
  SocketVector sink;
  auto& out = sink.sockets;
  std::size_t malformed = 0;
  ParseProcNetTcp(kTcp4, AF_INET, kAllStatesMask, &sink, &malformed);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(malformed, 0u);

  EXPECT_EQ(out[0].state, TcpState::kListen);
  EXPECT_EQ(out[0].local.ToString(), "127.0.0.1:3306");
  EXPECT_EQ(out[0].uid, 106u);
  EXPECT_EQ(out[0].inode, 31337u);

  EXPECT_EQ(out[1].state, TcpState::kEstablished);
  EXPECT_EQ(out[1].local.ToString(), "10.0.0.5:40000");
  EXPECT_EQ(out[1].remote.ToString(), "10.0.0.6:3306");
  EXPECT_EQ(out[1].timer, SocketTimer::kKeepalive);

  EXPECT_EQ(out[2].state, TcpState::kTimeWait);
  EXPECT_EQ(out[2].timer, SocketTimer::kTimeWait);
  EXPECT_EQ(out[2].expires_ms, 0x1770u * 10);  // USER_HZ ticks to ms
  EXPECT_EQ(out[2].inode, 0u);
  EXPECT_FALSE(out[2].IsFinWait2Orphan());

  EXPECT_EQ(out[3].state, TcpState::kFinWait2);
  EXPECT_TRUE(out[3].IsFinWait2Orphan());
  EXPECT_EQ(out[3].remote.port, 6379);
}

TEST(ProcNetTcpTest, ParsesIpv6AndFoldsMappedAddresses) {
  SocketVector sink;
  auto& out = sink.sockets;
  ParseProcNetTcp(kTcp6, AF_INET6, kAllStatesMask, &sink, nullptr);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].local.ToString(), "[::1]:3306");
  EXPECT_EQ(out[1].state, TcpState::kCloseWait);
  EXPECT_EQ(out[1].local.ToString(), "127.0.0.1:3306");
  EXPECT_EQ(out[1].remote.ToString(), "127.0.0.2:40960");
  EXPECT_EQ(out[1].uid, 33u);
}

TEST(ProcNetTcpTest, StateMaskFilters) {
  SocketVector sink;
  auto& out = sink.sockets;
  ParseProcNetTcp(kTcp4, AF_INET, StateBit(TcpState::kTimeWait), &sink, nullptr);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].state, TcpState::kTimeWait);
}

TEST(ProcNetTcpTest, CountsMalformedLinesAndKeepsGoing) {
  const std::string text = std::string(kTcp4) +
                           "   4: garbage\n"
                           "   5: 0100007F:0CEA 00000000:0000 FF 00000000:00000000 00:00000000 "
                           "00000000 0 0 1\n"  // state out of range
                           "   6: 0100007F:0CEA\n"
                           "\n";
  SocketVector sink;
  auto& out = sink.sockets;
  std::size_t malformed = 0;
  ParseProcNetTcp(text, AF_INET, kAllStatesMask, &sink, &malformed);
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(malformed, 3u);
}

TEST(ProcNetTcpTest, EveryTruncationOfALineIsRejectedCleanly) {
  const std::string header = "  sl  local_address ...\n";
  const std::string line =
      "   2: 0100007F:9C41 0100007F:0CEA 06 00000000:00000000 03:00001770 00000000     0        "
      "0 0";
  for (std::size_t n = 1; n < line.size(); ++n) {
    SocketVector sink;
    auto& out = sink.sockets;
    std::size_t malformed = 0;
    ParseProcNetTcp(header + line.substr(0, n), AF_INET, kAllStatesMask, &sink, &malformed);
    // Only cuts inside the final inode number can still parse; they must not crash either way.
    EXPECT_EQ(out.size() + malformed,
              line.substr(0, n).find_first_not_of(' ') == std::string::npos ? 0u : 1u)
        << n;
  }
}

}  // namespace
}  // namespace longlink::diag
