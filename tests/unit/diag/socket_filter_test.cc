#include "diag/socket_filter.h"

#include <gtest/gtest.h>

namespace longlink::diag {
namespace {

Endpoint Ep(const char* addr, std::uint16_t port) { return {*IpAddress::Parse(addr), port}; }

TEST(AddressFilterTest, ParsesForms) {
  struct Row {
    const char* in;
    const char* canonical;
  };
  const Row rows[] = {
      {"10.0.0.5", "10.0.0.5"},
      {"10.0.0.5:3306", "10.0.0.5:3306"},
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"10.0.0.0/8:3306", "10.0.0.0/8:3306"},
      {"::1", "::1"},
      {"[::1]:3306", "[::1]:3306"},
      {"[2001:db8::/32]:5432", "[2001:db8::/32]:5432"},
      {"localhost:3306", "127.0.0.1:3306"},
  };
  for (const auto& row : rows) {
    auto f = ParseAddressFilter(row.in);
    ASSERT_TRUE(f.ok()) << row.in << ": " << f.error().message;
    EXPECT_EQ(f->ToString(), row.canonical);
  }
}

TEST(AddressFilterTest, RejectsNonsenseNamingTheValue) {
  for (const char* bad : {"nonsense.invalid", "10.0.0.5:0", "10.0.0.5:70000", "10.0.0.5:abc",
                          "[::1", "[::1]x", "10.0.0.0/33", "10.0.0.0/x", ":3306", "nothere/8"}) {
    auto f = ParseAddressFilter(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_NE(f.error().message.find(bad), std::string::npos) << f.error().message;
  }
}

TEST(SocketFilterTest, MatchesPortsServicesAndStates) {
  SocketRecord tw;
  tw.state = TcpState::kTimeWait;
  tw.local = Ep("10.0.0.9", 40000);
  tw.remote = Ep("10.0.0.5", 3306);

  SocketFilter none;
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.Matches(tw, tw.remote));

  SocketFilter by_port;
  by_port.ports = {3306};
  EXPECT_TRUE(by_port.Matches(tw, tw.remote));
  by_port.ports = {40000};  // the local port counts too
  EXPECT_TRUE(by_port.Matches(tw, tw.remote));
  by_port.ports = {5432};
  EXPECT_FALSE(by_port.Matches(tw, tw.remote));

  SocketFilter by_dst;
  by_dst.services = {*ParseAddressFilter("10.0.0.0/24:3306")};
  EXPECT_TRUE(by_dst.Matches(tw, tw.remote));
  EXPECT_FALSE(by_dst.Matches(tw, tw.local));  // the service endpoint is what matters

  SocketFilter by_state;
  by_state.states = StateBit(TcpState::kCloseWait);
  EXPECT_FALSE(by_state.Matches(tw, tw.remote));
  EXPECT_EQ(by_state.ToString(), "state CLOSE_WAIT");
}

}  // namespace
}  // namespace longlink::diag
