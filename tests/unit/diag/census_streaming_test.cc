// The census as a stream: CensusBuilder fed one socket at a time, in any order after the
// listeners, must give what a plain grouping of the whole list gives, with memory that does not
// grow with the number of sockets.
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "diag/census.h"
#include "synthetic_sockets.h"

namespace longlink::diag {
namespace {

using testing::Ep;
using testing::Listen;
using testing::Range;
using testing::Sock;

SocketRecord TimeWait(const char* local, std::uint16_t port, Endpoint remote,
                      std::uint32_t expires_ms = 1000) {
  return Sock(TcpState::kTimeWait, Ep(local, port), remote, 0, SocketTimer::kTimeWait, expires_ms);
}

// What a group should hold, written out by hand in the table below.
struct ExpectedGroup {
  Direction direction;
  Endpoint service;
  std::uint64_t time_wait = 0;
  std::uint64_t total = 0;
  std::uint64_t peers = 0;
  std::uint64_t time_wait_recent = 0;
};

struct ExpectedPressure {
  const char* local;
  Endpoint remote;
  std::uint64_t ports_held;
};

struct StreamCase {
  const char* name;
  std::vector<SocketRecord> sockets;  // in delivery order: listeners first
  std::vector<ExpectedGroup> groups;  // in the census's order
  std::vector<ExpectedPressure> pressure;
};

std::vector<StreamCase> StreamCases() {
  const Endpoint mysql = Ep("10.0.0.5", 3306), redis = Ep("10.0.0.6", 6379);
  return {
      {"one destination, one source",
       {TimeWait("10.0.0.9", 40000, mysql), TimeWait("10.0.0.9", 40001, mysql)},
       {{Direction::kOutbound, mysql, 2, 2, 1, 0}},
       {{"10.0.0.9", mysql, 2}}},
      {"destinations interleaved: each run ends the previous lookup",
       {TimeWait("10.0.0.9", 40000, mysql), TimeWait("10.0.0.9", 40001, redis),
        TimeWait("10.0.0.9", 40002, mysql), TimeWait("10.0.0.9", 40003, mysql),
        TimeWait("10.0.0.9", 40004, redis)},
       {{Direction::kOutbound, mysql, 3, 3, 1, 0}, {Direction::kOutbound, redis, 2, 2, 1, 0}},
       {{"10.0.0.9", mysql, 3}, {"10.0.0.9", redis, 2}}},
      {"sources interleaved within one destination",
       {TimeWait("10.0.0.9", 40000, mysql), TimeWait("10.0.0.10", 40000, mysql),
        TimeWait("10.0.0.9", 40001, mysql), TimeWait("10.0.0.11", 40000, mysql),
        TimeWait("10.0.0.10", 40001, mysql), TimeWait("10.0.0.9", 40002, mysql)},
       {{Direction::kOutbound, mysql, 6, 6, 3, 0}},
       {{"10.0.0.9", mysql, 3}, {"10.0.0.10", mysql, 2}, {"10.0.0.11", mysql, 1}}},
      {"the same source toward two destinations is two pressure rows",
       {TimeWait("10.0.0.9", 40000, mysql), TimeWait("10.0.0.9", 40000, redis)},
       {{Direction::kOutbound, mysql, 1, 1, 1, 0}, {Direction::kOutbound, redis, 1, 1, 1, 0}},
       {{"10.0.0.9", mysql, 1}, {"10.0.0.9", redis, 1}}},
      {"a listening port makes sockets inbound, counted per client address, no pressure",
       {Listen("0.0.0.0", 3306), TimeWait("10.0.0.5", 3306, Ep("10.0.0.7", 40000)),
        TimeWait("10.0.0.5", 3306, Ep("10.0.0.8", 40000)),
        TimeWait("10.0.0.5", 3306, Ep("10.0.0.7", 40001))},
       {{Direction::kInbound, mysql, 3, 3, 2, 0}},
       {}},
      {"one endpoint both ways: inbound on our port and outbound to the same address",
       {Listen("0.0.0.0", 3306), TimeWait("10.0.0.5", 3306, Ep("10.0.0.7", 40000)),
        TimeWait("10.0.0.7", 40000, mysql)},
       {{Direction::kOutbound, mysql, 1, 1, 1, 0}, {Direction::kInbound, mysql, 1, 1, 1, 0}},
       {{"10.0.0.7", mysql, 1}}},
      {"ports outside the ephemeral range hold no pressure but make peers",
       {TimeWait("10.0.0.9", 1000, mysql), TimeWait("10.0.0.10", 40000, mysql)},
       {{Direction::kOutbound, mysql, 2, 2, 2, 0}},
       {{"10.0.0.10", mysql, 1}}},
      {"recent TIME_WAIT: the timer shows entry within the window (10 s)",
       {TimeWait("10.0.0.9", 40000, mysql, 59999), TimeWait("10.0.0.9", 40001, mysql, 50001),
        TimeWait("10.0.0.9", 40002, mysql, 50000), TimeWait("10.0.0.9", 40003, mysql, 10)},
       {{Direction::kOutbound, mysql, 4, 4, 1, 2}},
       {{"10.0.0.9", mysql, 4}}},
      {"states other than TIME_WAIT are counted in their group",
       {Sock(TcpState::kEstablished, Ep("10.0.0.9", 40000), mysql, 7),
        Sock(TcpState::kFinWait2, Ep("10.0.0.9", 40001), mysql, 0, SocketTimer::kTimeWait),
        TimeWait("10.0.0.9", 40002, mysql)},
       {{Direction::kOutbound, mysql, 1, 3, 1, 0}},
       {{"10.0.0.9", mysql, 3}}},
  };
}

TEST(CensusStreamingTest, GroupsAsTheTableSays) {
  for (const auto& c : StreamCases()) {
    SCOPED_TRACE(c.name);
    SocketFilter no_filter;
    CensusBuilder builder(no_filter, Range(32768, 60999), 10);
    for (const auto& s : c.sockets) builder.Add(s);
    Census census = builder.Finish();
    ASSERT_EQ(census.destinations.size(), c.groups.size());
    for (std::size_t i = 0; i < c.groups.size(); ++i) {
      const auto& got = census.destinations[i];
      const auto& want = c.groups[i];
      EXPECT_EQ(got.direction, want.direction) << i;
      EXPECT_EQ(got.service, want.service) << i;
      EXPECT_EQ(got.counts[TcpState::kTimeWait], want.time_wait) << i;
      EXPECT_EQ(got.counts.total, want.total) << i;
      EXPECT_EQ(got.peers, want.peers) << i;
      EXPECT_EQ(got.time_wait_recent, want.time_wait_recent) << i;
    }
    ASSERT_EQ(census.port_pressure.size(), c.pressure.size());
    for (std::size_t i = 0; i < c.pressure.size(); ++i) {
      EXPECT_EQ(census.port_pressure[i].local_address.ToString(), c.pressure[i].local) << i;
      EXPECT_EQ(census.port_pressure[i].remote, c.pressure[i].remote) << i;
      EXPECT_EQ(census.port_pressure[i].ports_held, c.pressure[i].ports_held) << i;
    }
  }
}

// A plain grouping of the whole list, the way the census was computed before it streamed.
struct Reference {
  using GroupKey = std::pair<Direction, Endpoint>;
  std::map<GroupKey, std::array<std::uint64_t, kTcpStateCount>> states;
  std::map<GroupKey, std::set<IpAddress>> peers;
  std::map<GroupKey, std::uint64_t> recent;
  std::map<std::pair<IpAddress, Endpoint>, std::uint64_t> pressure;
  std::uint64_t total = 0;
};

Reference Group(const std::vector<SocketRecord>& sockets, const PortRange& range) {
  std::set<std::uint16_t> listening;
  for (const auto& s : sockets) {
    if (s.state == TcpState::kListen) listening.insert(s.local.port);
  }
  Reference r;
  for (const auto& s : sockets) {
    ++r.total;
    if (s.state == TcpState::kListen) continue;
    const bool inbound = listening.contains(s.local.port);
    Reference::GroupKey key{inbound ? Direction::kInbound : Direction::kOutbound,
                            inbound ? s.local : s.remote};
    ++r.states[key][static_cast<std::size_t>(s.state)];
    r.peers[key].insert(inbound ? s.remote.address : s.local.address);
    if (s.state == TcpState::kTimeWait && s.expires_ms > 50000) ++r.recent[key];
    if (!inbound && range.Contains(s.local.port)) ++r.pressure[{s.local.address, s.remote}];
  }
  return r;
}

// Random sockets over a few services, sources, clients and states; listeners first.
std::vector<SocketRecord> RandomSockets(std::mt19937* rng, int count) {
  const char* addresses[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "::ffff:10.0.0.4", "2001:db8::5"};
  const std::uint16_t service_ports[] = {3306, 5432, 6379};
  const TcpState states[] = {TcpState::kTimeWait,  TcpState::kTimeWait, TcpState::kEstablished,
                             TcpState::kCloseWait, TcpState::kFinWait2, TcpState::kSynSent};
  std::vector<SocketRecord> out = {Listen("0.0.0.0", 5432)};
  auto pick = [rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(*rng);
  };
  for (int i = 0; i < count; ++i) {
    // Local ports 20000..49999: some below the ephemeral range, none a listening port.
    Endpoint local = Ep(addresses[pick(5)], static_cast<std::uint16_t>(20000 + pick(30000)));
    Endpoint remote = Ep(addresses[pick(5)], service_ports[pick(3)]);
    if (pick(4) == 0) {  // a client of our listening port
      local.port = 5432;
      remote.port = static_cast<std::uint16_t>(20000 + pick(30000));
    }
    out.push_back(Sock(states[pick(6)], local, remote, 1000 + static_cast<std::uint64_t>(i),
                       SocketTimer::kTimeWait, static_cast<std::uint32_t>(pick(60000))));
  }
  return out;
}

TEST(CensusStreamingTest, AgreesWithAPlainGroupingWhateverTheOrder) {
  std::mt19937 rng(18);
  const PortRange range = Range(32768, 60999);
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    auto sockets = RandomSockets(&rng, 2000);
    std::shuffle(sockets.begin() + 1, sockets.end(), rng);  // the listener stays first
    Reference want = Group(sockets, range);
    SocketFilter no_filter;
    CensusBuilder builder(no_filter, range, 10);
    for (const auto& s : sockets) builder.Add(s);
    Census got = builder.Finish();

    EXPECT_EQ(got.states.total, want.total);
    ASSERT_EQ(got.destinations.size(), want.states.size());
    for (const auto& g : got.destinations) {
      Reference::GroupKey key{g.direction, g.service};
      ASSERT_TRUE(want.states.contains(key)) << g.service.ToString();
      EXPECT_EQ(g.counts.by_state, want.states[key]) << g.service.ToString();
      EXPECT_EQ(g.peers, want.peers[key].size()) << g.service.ToString();
      EXPECT_EQ(g.time_wait_recent, want.recent[key]) << g.service.ToString();
    }
    ASSERT_EQ(got.port_pressure.size(), want.pressure.size());
    for (const auto& p : got.port_pressure) {
      EXPECT_EQ(p.ports_held, (want.pressure[{p.local_address, p.remote}]));
    }
    for (std::size_t i = 1; i < got.destinations.size(); ++i) {
      EXPECT_GE(got.destinations[i - 1].counts[TcpState::kTimeWait],
                got.destinations[i].counts[TcpState::kTimeWait]);
    }
  }
}

TEST(CensusStreamingTest, CloseWaitFollowsItsGroupThroughTheSort) {
  SocketFilter no_filter;
  CensusBuilder builder(no_filter, Range(32768, 60999), 10);
  // The CLOSE_WAIT's group is created first but sorts last (no TIME_WAIT).
  builder.Add(Sock(TcpState::kCloseWait, Ep("10.0.0.9", 40000), Ep("10.0.0.6", 6379), 42));
  builder.Add(TimeWait("10.0.0.9", 40001, Ep("10.0.0.5", 3306)));
  Census census = builder.Finish();
  ASSERT_EQ(census.destinations.size(), 2u);
  ASSERT_EQ(census.close_wait.size(), 1u);
  EXPECT_EQ(census.close_wait[0].inode, 42u);
  EXPECT_EQ(census.destinations[census.close_wait[0].group].service, Ep("10.0.0.6", 6379));
}

TEST(CensusStreamingTest, KeptInodesAreCappedAndTheRestCounted) {
  SocketFilter no_filter;
  CensusBuilder builder(no_filter, Range(32768, 60999), 10);
  const Endpoint mysql = Ep("10.0.0.5", 3306);
  for (std::uint64_t i = 0; i < kLiveInodesPerGroup + 10; ++i) {
    builder.Add(Sock(TcpState::kEstablished, Ep("10.0.0.9", 40000), mysql, 1 + i));
  }
  for (std::uint64_t i = 0; i < kCloseWaitSocketsKept + 5; ++i) {
    builder.Add(Sock(TcpState::kCloseWait, Ep("10.0.0.9", 40000), mysql, 1'000'000 + i));
  }
  Census census = builder.Finish();
  ASSERT_EQ(census.destinations.size(), 1u);
  EXPECT_EQ(census.destinations[0].counts[TcpState::kEstablished], kLiveInodesPerGroup + 10);
  EXPECT_EQ(census.destinations[0].live_inodes.size(), kLiveInodesPerGroup);
  EXPECT_EQ(census.destinations[0].counts[TcpState::kCloseWait], kCloseWaitSocketsKept + 5);
  EXPECT_EQ(census.close_wait.size(), kCloseWaitSocketsKept);
  EXPECT_EQ(census.close_wait_not_kept, 5u);

  Attribution a = AttributeSockets(SocketOwners{}, &census);
  EXPECT_EQ(a.close_wait_unattributed, kCloseWaitSocketsKept + 5);
}

TEST(CensusStreamingTest, ClearForgetsEverythingIncludingListeners) {
  SocketFilter no_filter;
  CensusBuilder builder(no_filter, Range(32768, 60999), 10);
  builder.Add(Listen("0.0.0.0", 3306));
  builder.Add(TimeWait("10.0.0.5", 3306, Ep("10.0.0.7", 40000)));
  builder.Clear();  // the source starts over without the listener
  builder.Add(TimeWait("10.0.0.5", 3306, Ep("10.0.0.7", 40000)));
  Census census = builder.Finish();
  EXPECT_EQ(census.states.total, 1u);
  EXPECT_TRUE(census.listening_ports.empty());
  ASSERT_EQ(census.destinations.size(), 1u);
  EXPECT_EQ(census.destinations[0].direction, Direction::kOutbound);
  EXPECT_EQ(census.destinations[0].counts.total, 1u);
}

TEST(CensusStreamingTest, FinishLeavesTheBuilderEmpty) {
  SocketFilter no_filter;
  CensusBuilder builder(no_filter, Range(32768, 60999), 10);
  builder.Add(Listen("0.0.0.0", 5432));
  builder.Add(TimeWait("10.0.0.9", 40000, Ep("10.0.0.5", 3306)));
  EXPECT_EQ(builder.Finish().states.total, 2u);
  Census second = builder.Finish();
  EXPECT_EQ(second.states.total, 0u);
  EXPECT_TRUE(second.destinations.empty());
  EXPECT_TRUE(second.listening_ports.empty());
  EXPECT_TRUE(second.port_pressure.empty());
}

TEST(CensusStreamingTest, FiltersApplyWhileStreaming) {
  SocketFilter filter;
  filter.states = StateBit(TcpState::kTimeWait);
  filter.ports = {3306};
  CensusBuilder builder(filter, Range(32768, 60999), 10);
  builder.Add(Listen("0.0.0.0", 6379));  // not counted, but known
  builder.Add(TimeWait("10.0.0.9", 40000, Ep("10.0.0.5", 3306)));
  builder.Add(TimeWait("10.0.0.9", 40001, Ep("10.0.0.5", 5432)));
  builder.Add(Sock(TcpState::kEstablished, Ep("10.0.0.9", 40002), Ep("10.0.0.5", 3306), 9));
  builder.Add(TimeWait("10.0.0.9", 6379, Ep("10.0.0.8", 3306)));  // inbound on 6379: port 3306
  Census census = builder.Finish();
  EXPECT_EQ(census.states.total, 2u);
  EXPECT_EQ(census.listening_ports, (std::vector<std::uint16_t>{6379}));
  ASSERT_EQ(census.destinations.size(), 2u);
  EXPECT_EQ(census.destinations[0].direction, Direction::kOutbound);
  EXPECT_EQ(census.destinations[1].direction, Direction::kInbound);
}

// The point of streaming: a million sockets to a few destinations cost no more heap than a
// thousand. A list of them would take tens of MiB (SocketRecord is 64 bytes).
TEST(CensusStreamingTest, HeapDoesNotGrowWithTheNumberOfSockets) {
  SocketFilter no_filter;
  CensusBuilder builder(no_filter, Range(32768, 60999), 10);
  const Endpoint services[] = {Ep("10.0.0.5", 3306), Ep("10.0.0.6", 6379)};
  const Endpoint sources[] = {Ep("10.0.1.1", 0), Ep("10.0.1.2", 0), Ep("10.0.1.3", 0),
                              Ep("10.0.1.4", 0)};
  auto feed = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      Endpoint local = sources[i % 4];
      local.port = static_cast<std::uint16_t>(32768 + i % 28000);
      builder.Add(Sock(TcpState::kTimeWait, local, services[(i / 7) % 2], 0, SocketTimer::kTimeWait,
                       static_cast<std::uint32_t>(i % 60000)));
    }
  };
  feed(0, 1000);
  const std::size_t after_a_thousand = mallinfo2().uordblks;
  feed(1000, 1'000'000);
  const std::size_t after_a_million = mallinfo2().uordblks;
  EXPECT_LT(after_a_million, after_a_thousand + 64 * 1024);
  Census census = builder.Finish();
  EXPECT_EQ(census.states[TcpState::kTimeWait], 1'000'000u);
  ASSERT_EQ(census.port_pressure.size(), 8u);
  std::uint64_t held = 0;
  for (const auto& p : census.port_pressure) held += p.ports_held;
  EXPECT_EQ(held, 1'000'000u);
}

}  // namespace
}  // namespace longlink::diag
