#include "diag/kernel_settings.h"

#include <gtest/gtest.h>

namespace longlink::diag {
namespace {

TEST(KernelSettingsTest, ParsesNetstatPairs) {
  const char* netstat =
      "TcpExt: SyncookiesSent TW TWRecycled TWKilled TCPTimeWaitOverflow\n"
      "TcpExt: 0 5000 45459 3 4000\n"
      "IpExt: InNoRoutes InTruncatedPkts\n"
      "IpExt: 0 0\n";
  std::map<std::string, std::int64_t> out;
  ParseProcNetPairs(netstat, {"TcpExt"}, &out);
  EXPECT_EQ(out.at("TcpExtTW"), 5000);
  EXPECT_EQ(out.at("TcpExtTWRecycled"), 45459);
  EXPECT_EQ(out.at("TcpExtTCPTimeWaitOverflow"), 4000);
  EXPECT_FALSE(out.contains("IpExtInNoRoutes"));
}

TEST(KernelSettingsTest, ParsesSnmpTcpLineAmongOthers) {
  const char* snmp =
      "Ip: Forwarding DefaultTTL\n"
      "Ip: 1 64\n"
      "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens CurrEstab\n"
      "Tcp: 1 200 120000 -1 200000 10 15\n"
      "Udp: InDatagrams\n"
      "Udp: 7\n";
  std::map<std::string, std::int64_t> out;
  ParseProcNetPairs(snmp, {"Tcp"}, &out);
  EXPECT_EQ(out.at("TcpActiveOpens"), 200000);
  EXPECT_EQ(out.at("TcpMaxConn"), -1);
  EXPECT_EQ(out.at("TcpCurrEstab"), 15);
  EXPECT_EQ(out.size(), 7u);
}

TEST(KernelSettingsTest, MismatchedPairsAreIgnored) {
  std::map<std::string, std::int64_t> out;
  ParseProcNetPairs("TcpExt: A B\nTcpExt: 1\n", {"TcpExt"}, &out);
  EXPECT_TRUE(out.empty());
  ParseProcNetPairs("TcpExt: A B\n", {"TcpExt"}, &out);
  EXPECT_TRUE(out.empty());
}

TEST(KernelSettingsTest, ParsesSockstat) {
  EXPECT_EQ(ParseSockstatTw("sockets: used 120\nTCP: inuse 5 orphan 0 tw 30412 alloc 12 mem 3\n"),
            30412);
  EXPECT_EQ(ParseSockstatTw("sockets: used 120\n"), std::nullopt);
}

TEST(KernelSettingsTest, PortRangeTable) {
  struct Row {
    const char* range;
    const char* reserved;
    std::optional<std::uint32_t> usable;
  };
  const Row rows[] = {
      {"32768\t60999\n", "\n", 28232},
      {"20000 21999", "", 2000},
      {"20000 21999", "20000,21000-21099,8080", 1899},
      {"20000 21999", "19000-20004", 1995},
      {"1024 65535", "", 64512},
      {"60999 32768", "", std::nullopt},
      {"abc def", "", std::nullopt},
      {"20000 21999", "x", std::nullopt},
  };
  for (const auto& row : rows) {
    auto range = ParsePortRange(row.range, row.reserved);
    ASSERT_EQ(range.has_value(), row.usable.has_value()) << row.range << " / " << row.reserved;
    if (range) {
      EXPECT_EQ(range->usable(), *row.usable) << row.range << " / " << row.reserved;
    }
  }
}

TEST(KernelSettingsTest, ReadsThisHost) {
  KernelSettings s = ReadKernelSettings();
  EXPECT_TRUE(s.GetInt("net.ipv4.tcp_fin_timeout").has_value());
  EXPECT_FALSE(s.Get("net.ipv4.tcp_tw_recycle").has_value());  // gone since Linux 4.12
  EXPECT_GT(s.port_range.usable(), 0u);
  KernelCounters c = ReadKernelCounters();
  EXPECT_TRUE(c.Get("TcpExtTW").has_value());
  EXPECT_TRUE(c.Get("TcpActiveOpens").has_value());
}

}  // namespace
}  // namespace longlink::diag
