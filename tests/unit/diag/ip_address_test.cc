#include "diag/ip_address.h"

#include <gtest/gtest.h>

namespace longlink::diag {
namespace {

TEST(IpAddressTest, ParsesAndPrintsCanonicalText) {
  struct Row {
    const char* in;
    const char* out;
    bool v4;
  };
  const Row rows[] = {
      {"10.0.0.5", "10.0.0.5", true},
      {"127.0.0.1", "127.0.0.1", true},
      {"::1", "::1", false},
      {"2001:db8:0:0:0:0:0:1", "2001:db8::1", false},
      {"::ffff:10.1.2.3", "10.1.2.3", true},  // mapped addresses fold to IPv4
  };
  for (const auto& row : rows) {
    auto a = IpAddress::Parse(row.in);
    ASSERT_TRUE(a.ok()) << row.in;
    EXPECT_EQ(a->ToString(), row.out);
    EXPECT_EQ(a->is_v4(), row.v4) << row.in;
  }
}

TEST(IpAddressTest, RejectsNonAddresses) {
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "db1", "1::2::3", "[::1]"}) {
    auto a = IpAddress::Parse(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_NE(a.error().message.find(bad), std::string::npos);
  }
}

TEST(IpAddressTest, MappedAndPlainIpv4AreEqual) {
  EXPECT_EQ(*IpAddress::Parse("::ffff:127.0.0.1"), *IpAddress::Parse("127.0.0.1"));
  EXPECT_EQ(IpAddressHash()(*IpAddress::Parse("::ffff:127.0.0.1")),
            IpAddressHash()(*IpAddress::Parse("127.0.0.1")));
}

TEST(IpAddressTest, PrefixLoopbackAndUnspecified) {
  auto a = *IpAddress::Parse("10.1.2.3");
  EXPECT_TRUE(a.InPrefix(*IpAddress::Parse("10.0.0.0"), 8));
  EXPECT_TRUE(a.InPrefix(*IpAddress::Parse("10.1.2.0"), 23));
  EXPECT_FALSE(a.InPrefix(*IpAddress::Parse("10.1.4.0"), 23));
  EXPECT_FALSE(a.InPrefix(*IpAddress::Parse("::"), 0));  // other family
  EXPECT_TRUE(IpAddress::Parse("127.3.0.1")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("::1")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("10.0.0.1")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("0.0.0.0")->IsUnspecified());
  EXPECT_TRUE(IpAddress::Parse("::")->IsUnspecified());
}

TEST(EndpointTest, BracketsIpv6) {
  EXPECT_EQ((Endpoint{*IpAddress::Parse("10.0.0.5"), 3306}).ToString(), "10.0.0.5:3306");
  EXPECT_EQ((Endpoint{*IpAddress::Parse("::1"), 3306}).ToString(), "[::1]:3306");
}

}  // namespace
}  // namespace longlink::diag
