#include "diag/peer_counts.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>

namespace longlink::diag {
namespace {

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

struct Bump {
  std::uint32_t group;
  const char* peer;
};

struct CountsCase {
  const char* name;
  std::vector<Bump> bumps;
  std::map<std::pair<std::uint32_t, std::string>, std::uint64_t> want;  // (group, "family/addr")
};

std::string Key(const IpAddress& a) { return (a.is_v4() ? "4/" : "6/") + a.ToString(); }

TEST(PeerCountsTest, CountsPerGroupAndPeer) {
  const std::vector<CountsCase> cases = {
      {"empty", {}, {}},
      {"one peer twice", {{0, "10.0.0.1"}, {0, "10.0.0.1"}}, {{{0, "4/10.0.0.1"}, 2}}},
      {"same peer in two groups",
       {{0, "10.0.0.1"}, {1, "10.0.0.1"}, {0, "10.0.0.1"}},
       {{{0, "4/10.0.0.1"}, 2}, {{1, "4/10.0.0.1"}, 1}}},
      // 10.0.0.1 and a00:1:: have the same first bytes; only the family tells them apart.
      {"IPv4 and IPv6 with the same bytes",
       {{0, "10.0.0.1"}, {0, "a00:1::"}, {0, "a00:1::"}},
       {{{0, "4/10.0.0.1"}, 1}, {{0, "6/a00:1::"}, 2}}},
      {"a mapped address is its IPv4 address",
       {{3, "::ffff:10.0.0.1"}, {3, "10.0.0.1"}},
       {{{3, "4/10.0.0.1"}, 2}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    PeerCounts counts;
    for (const auto& b : c.bumps) ++counts.At(b.group, Ip(b.peer));
    std::map<std::pair<std::uint32_t, std::string>, std::uint64_t> got;
    counts.ForEach([&](const PeerCounts::Entry& e) { got[{e.group, Key(e.peer)}] = e.count; });
    EXPECT_EQ(got, c.want);
    EXPECT_EQ(counts.size(), c.want.size());
  }
}

TEST(PeerCountsTest, GrowsWithoutLosingCounts) {
  std::mt19937 rng(7);
  PeerCounts counts;
  std::map<std::pair<std::uint32_t, std::string>, std::uint64_t> want;
  for (int i = 0; i < 200'000; ++i) {
    const std::uint32_t group = static_cast<std::uint32_t>(rng() % 7);
    const std::string peer =
        "10.1." + std::to_string(rng() % 40) + "." + std::to_string(rng() % 50);
    ++counts.At(group, Ip(peer.c_str()));
    ++want[{group, "4/" + peer}];
  }
  std::map<std::pair<std::uint32_t, std::string>, std::uint64_t> got;
  counts.ForEach([&](const PeerCounts::Entry& e) { got[{e.group, Key(e.peer)}] = e.count; });
  EXPECT_EQ(counts.size(), want.size());
  EXPECT_EQ(got, want);
}

TEST(PeerCountsTest, ClearEmptiesAndTheTableIsReusable) {
  PeerCounts counts;
  for (int i = 0; i < 1000; ++i) ++counts.At(1, Ip(("10.2.0." + std::to_string(i % 250)).c_str()));
  ASSERT_EQ(counts.size(), 250u);
  counts.Clear();
  EXPECT_EQ(counts.size(), 0u);
  int seen = 0;
  counts.ForEach([&](const PeerCounts::Entry&) { ++seen; });
  EXPECT_EQ(seen, 0);
  EXPECT_EQ(++counts.At(1, Ip("10.2.0.1")), 1u);
}

}  // namespace
}  // namespace longlink::diag
