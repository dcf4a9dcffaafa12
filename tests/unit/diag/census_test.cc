#include "diag/census.h"

#include <gtest/gtest.h>

#include "synthetic_sockets.h"

namespace longlink::diag {
namespace {

using testing::AddTimeWait;
using testing::Ep;
using testing::Listen;
using testing::Range;
using testing::Sock;

const DestinationGroup* FindGroup(const Census& c, Direction d, const char* addr,
                                  std::uint16_t port) {
  for (const auto& g : c.destinations) {
    if (g.direction == d && g.service == Ep(addr, port)) return &g;
  }
  return nullptr;
}

TEST(CensusTest, SplitsInboundFromOutboundByListeningPorts) {
  std::vector<SocketRecord> s;
  s.push_back(Listen("0.0.0.0", 5432));
  // Outbound client-closed TIME_WAIT to a remote mysql.
  AddTimeWait(&s, "10.0.0.9", 40000, Ep("10.0.0.5", 3306), 30, [](int) { return 59000u; });
  // Inbound server-closed TIME_WAIT on our 5432, from two client addresses.
  AddTimeWait(&s, "10.0.0.9", 5432, Ep("10.0.0.7", 50000), 1, [](int) { return 1000u; });
  AddTimeWait(&s, "10.0.0.9", 5432, Ep("10.0.0.8", 50000), 1,
              [](int) { return 1000u; });  // count 1: port stays 5432
  Census c = TakeCensus(s, {}, Range(32768, 60999), 10);

  EXPECT_EQ(c.states.total, 33u);
  EXPECT_EQ(c.states[TcpState::kTimeWait], 32u);
  EXPECT_EQ(c.states[TcpState::kListen], 1u);
  EXPECT_EQ(c.listening_ports, (std::vector<std::uint16_t>{5432}));
  ASSERT_EQ(c.destinations.size(), 2u);

  const auto& out = c.destinations[0];  // sorted by TIME_WAIT
  EXPECT_EQ(out.direction, Direction::kOutbound);
  EXPECT_EQ(out.service, Ep("10.0.0.5", 3306));
  EXPECT_EQ(out.counts[TcpState::kTimeWait], 30u);
  EXPECT_EQ(out.ClosedFirstBy(), "this host (client)");
  EXPECT_EQ(out.peers, 1u);

  const auto* in = FindGroup(c, Direction::kInbound, "10.0.0.9", 5432);
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in->counts[TcpState::kTimeWait], 2u);
  EXPECT_EQ(in->ClosedFirstBy(), "this host (server)");
  EXPECT_EQ(in->peers, 2u);
}

TEST(CensusTest, RecentRateCountsOnlySocketsYoungerThanTheWindow) {
  std::vector<SocketRecord> s;
  // 600 TIME_WAIT spread evenly over the last 60 s: 10 per second.
  AddTimeWait(&s, "10.0.0.9", 20000, Ep("10.0.0.5", 3306), 600,
              [](int i) { return static_cast<std::uint32_t>(60000 - i * 100 - 50); });
  for (int window : {1, 5, 10, 30, 60}) {
    Census c = TakeCensus(s, {}, Range(32768, 60999), window);
    ASSERT_EQ(c.destinations.size(), 1u);
    EXPECT_DOUBLE_EQ(c.destinations[0].close_rate_recent, 10.0) << window;
    EXPECT_DOUBLE_EQ(c.destinations[0].close_rate_60s, 10.0);
  }
}

TEST(CensusTest, FinWait2OrphansAreApartFromTimeWait) {
  std::vector<SocketRecord> s;
  s.push_back(Sock(TcpState::kFinWait2, Ep("10.0.0.9", 40000), Ep("10.0.0.5", 6379), 0,
                   SocketTimer::kTimeWait, 30000));
  s.push_back(Sock(TcpState::kFinWait2, Ep("10.0.0.9", 40001), Ep("10.0.0.5", 6379), 77,
                   SocketTimer::kKeepalive, 30000));  // a full socket its program still holds
  Census c = TakeCensus(s, {}, Range(32768, 60999), 10);
  EXPECT_EQ(c.states[TcpState::kFinWait2], 2u);
  EXPECT_EQ(c.states.fin_wait2_orphans, 1u);
  EXPECT_EQ(c.states[TcpState::kTimeWait], 0u);
  EXPECT_EQ(c.destinations[0].counts.fin_wait2_orphans, 1u);
  EXPECT_EQ(c.destinations[0].ClosedFirstBy(), "");
}

TEST(CensusTest, PortPressurePerSourceAndDestination) {
  std::vector<SocketRecord> s;
  AddTimeWait(&s, "127.0.4.1", 20000, Ep("127.0.0.1", 11211), 1900, [](int) { return 50000u; });
  AddTimeWait(&s, "127.0.4.2", 20000, Ep("127.0.0.1", 11211), 1000, [](int) { return 50000u; });
  AddTimeWait(&s, "127.0.4.1", 20000, Ep("127.0.0.1", 3306), 100, [](int) { return 50000u; });
  // Outside the ephemeral range: an explicit bind, not counted.
  AddTimeWait(&s, "127.0.4.1", 5000, Ep("127.0.0.1", 3306), 10, [](int) { return 50000u; });
  Census c = TakeCensus(s, {}, Range(20000, 21999), 10);
  ASSERT_EQ(c.port_pressure.size(), 3u);
  EXPECT_EQ(c.port_pressure[0].local_address.ToString(), "127.0.4.1");
  EXPECT_EQ(c.port_pressure[0].remote, Ep("127.0.0.1", 11211));
  EXPECT_EQ(c.port_pressure[0].ports_held, 1900u);
  EXPECT_EQ(c.port_pressure[0].usable_ports, 2000u);
  EXPECT_DOUBLE_EQ(c.port_pressure[0].ratio, 0.95);
  EXPECT_EQ(c.port_pressure[0].level, Level::kCritical);
  EXPECT_EQ(c.port_pressure[1].level, Level::kWarning);  // exactly 50%
  EXPECT_EQ(c.port_pressure[2].level, Level::kOk);
  EXPECT_EQ(c.port_pressure[2].ports_held, 100u);
}

TEST(CensusTest, FiltersCountButListeningPortsStayKnown) {
  std::vector<SocketRecord> s;
  s.push_back(Listen("0.0.0.0", 5432));
  for (std::uint16_t i = 0; i < 3; ++i) {
    s.push_back(Sock(TcpState::kTimeWait, Ep("10.0.0.9", 5432),
                     Ep("10.0.0.7", static_cast<std::uint16_t>(50000 + i)), 0,
                     SocketTimer::kTimeWait, 1000));
  }
  AddTimeWait(&s, "10.0.0.9", 40000, Ep("10.0.0.5", 3306), 5, [](int) { return 1000u; });
  SocketFilter f;
  f.ports = {5432};
  f.states = StateBit(TcpState::kTimeWait);
  Census c = TakeCensus(s, f, Range(32768, 60999), 10);
  EXPECT_EQ(c.states.total, 3u);
  EXPECT_EQ(c.states[TcpState::kListen], 0u);
  EXPECT_EQ(c.listening_ports, (std::vector<std::uint16_t>{5432}));
  ASSERT_EQ(c.destinations.size(), 1u);
  EXPECT_EQ(c.destinations[0].direction, Direction::kInbound);
}

TEST(CensusTest, AttributesCloseWaitAndLiveSocketsOfChurningGroups) {
  std::vector<SocketRecord> s;
  s.push_back(Listen("0.0.0.0", 6379));
  for (std::uint64_t i = 0; i < 3; ++i) {  // clients closed on our redis port
    s.push_back(Sock(TcpState::kCloseWait, Ep("10.0.0.9", 6379),
                     Ep("10.0.0.7", static_cast<std::uint16_t>(50000 + i)), 100 + i));
  }
  s.push_back(Sock(TcpState::kCloseWait, Ep("10.0.0.9", 40000), Ep("10.0.0.5", 3306), 200));
  s.push_back(Sock(TcpState::kCloseWait, Ep("10.0.0.9", 40001), Ep("10.0.0.5", 3306), 0));
  // 50 old TIME_WAIT: just enough for a short_lived_connections finding (info).
  AddTimeWait(&s, "10.0.0.9", 41000, Ep("10.0.0.6", 3306), 50, [](int) { return 1000u; });
  s.push_back(Sock(TcpState::kEstablished, Ep("10.0.0.9", 42000), Ep("10.0.0.6", 3306), 300));
  // Established to a service without TIME_WAIT: not worth a /proc walk.
  s.push_back(Sock(TcpState::kEstablished, Ep("10.0.0.9", 42001), Ep("10.0.0.6", 22), 400));
  // 49 TIME_WAIT earn no finding, so their service's live sockets are not looked up either.
  AddTimeWait(&s, "10.0.0.9", 43000, Ep("10.0.0.6", 5432), 49, [](int) { return 1000u; });
  s.push_back(Sock(TcpState::kEstablished, Ep("10.0.0.9", 44000), Ep("10.0.0.6", 5432), 500));
  Census c = TakeCensus(s, {}, Range(32768, 60999), 10);

  auto inodes = InodesToAttribute(c);
  EXPECT_EQ(inodes, (std::unordered_set<std::uint64_t>{100, 101, 102, 200, 300}));

  SocketOwners owners;
  owners.processes = {{.pid = 4242, .uid = 33, .command = "php-fpm", .cmdline = "php-fpm: pool"},
                      {.pid = 7, .uid = 0, .command = "cron", .cmdline = "cron -f"}};
  owners.owner_of = {{100, 0}, {101, 0}, {102, 0}, {200, 0}, {300, 1}};
  Attribution a = AttributeSockets(owners, &c);
  ASSERT_EQ(a.close_wait.size(), 1u);
  EXPECT_EQ(a.close_wait[0].process.pid, 4242);
  EXPECT_EQ(a.close_wait[0].count, 4u);
  ASSERT_EQ(a.close_wait[0].peers.size(), 2u);
  EXPECT_EQ(a.close_wait[0].peers[0].direction, Direction::kInbound);
  EXPECT_EQ(a.close_wait[0].peers[0].service, Ep("10.0.0.9", 6379));
  EXPECT_EQ(a.close_wait[0].peers[0].count, 3u);
  EXPECT_EQ(a.close_wait[0].peers[1].direction, Direction::kOutbound);
  EXPECT_EQ(a.close_wait_unattributed, 1u);  // inode 0 cannot be attributed

  const auto* churn = FindGroup(c, Direction::kOutbound, "10.0.0.6", 3306);
  ASSERT_NE(churn, nullptr);
  ASSERT_EQ(churn->processes.size(), 1u);
  EXPECT_EQ(churn->processes[0].process.command, "cron");
}

TEST(CensusTest, EmptyListIsEmptyCensus) {
  Census c = TakeCensus({}, {}, Range(32768, 60999), 10);
  EXPECT_EQ(c.states.total, 0u);
  EXPECT_TRUE(c.destinations.empty());
  EXPECT_TRUE(InodesToAttribute(c).empty());
}

}  // namespace
}  // namespace longlink::diag
