#include "auth/account_match.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace longlink::auth {
namespace {

// How MariaDB 10.11 (skip_name_resolve = 0, the default) sees the proxy's connection.
const ConnectionOrigin kSocket{.host_name = "localhost", .ip = ""};
// TCP from 127.0.0.1: the server names a loopback address "localhost" without asking DNS.
const ConnectionOrigin kLoopback{.host_name = "localhost", .ip = "127.0.0.1"};
// TCP from 127.0.0.1 to a server with skip_name_resolve = 1.
const ConnectionOrigin kLoopbackUnresolved{.host_name = "", .ip = "127.0.0.1"};
const ConnectionOrigin kRemote{.host_name = "db1.example.com", .ip = "10.1.2.3"};
const ConnectionOrigin kRemoteUnresolved{.host_name = "", .ip = "10.1.2.3"};

struct HostCase {
  std::string_view pattern;
  ConnectionOrigin origin;
  bool matches;
};

void ExpectHostCases(const std::vector<HostCase>& cases) {
  for (const HostCase& c : cases) {
    EXPECT_EQ(HostMatches(c.pattern, c.origin), c.matches)
        << "pattern '" << c.pattern << "', host '" << c.origin.host_name << "', ip '" << c.origin.ip
        << "'";
  }
}

// Rows observed on MariaDB 10.11.19 (CREATE USER, then a login through the socket and through
// TCP 127.0.0.1, SELECT CURRENT_USER()).
TEST(AuthAccountMatchTest, HostMatchesObservedOnMariaDb1011) {
  ExpectHostCases({
      {"%", kSocket, true},
      {"%", kLoopback, true},
      {"", kSocket, true},  // an empty Host behaves as '%' (CURRENT_USER() shows '%')
      {"localhost", kSocket, true},
      {"localhost", kLoopback, true},
      {"LOCALHOST", kSocket, true},  // host names without regard to case
      {"LocalHost", kLoopback, true},
      {"127.0.0.1", kSocket, false},  // a socket has no IP
      {"127.0.0.1", kLoopback, true},
      {"127.0.0.2", kLoopback, false},
      {"::1", kLoopback, false},
      {"127.0.0.%", kLoopback, true},
      {"127.%", kLoopback, true},
      {"127.0.0._", kLoopback, true},
      {"127.0._.1", kLoopback, true},
      {"127.0.0.%", kSocket, false},
      {"l%", kSocket, true},
      {"%t", kSocket, true},
      {"_ocalhost", kSocket, true},
      {"l_calhost", kSocket, true},
      {"%7.0.0.1", kLoopback, true},
      {"127.0%.0.%", kLoopback, true},
      {"127._.0.%", kLoopback, true},
      // '\' escapes.
      {"localhos\\t", kSocket, true},
      {"127.0.0\\.1", kLoopback, true},
      {"127.0.0\\_1", kLoopback, false},
      {"localhost\\", kSocket, false},  // a trailing '\' is a literal backslash
      // ip/netmask.
      {"127.0.0.0/255.255.255.0", kLoopback, true},
      {"127.0.0.0/255.255.255.0", kSocket, false},
      {"127.0.0.1/255.255.255.255", kLoopback, true},
      {"127.0.0.0/255.0.0.0", kLoopback, true},
      {"127.0.0.1/0.0.0.0", kLoopback, false},  // mask 0.0.0.0: plain text
      {"127.1.0.0/255.255.0.0", kLoopback, false},
  });
}

// From the server's source (sql_acl.cc compare_hostname, wild_case_compare, calc_ip; vio's
// address normalisation) for origins the test server cannot produce.
TEST(AuthAccountMatchTest, HostMatchesBySource) {
  const ConnectionOrigin v6{.host_name = "", .ip = "fe80::1"};
  const ConnectionOrigin mapped{.host_name = "", .ip = "::ffff:10.1.2.3"};
  ExpectHostCases({
      {"localhost", kLoopbackUnresolved, false},  // skip-name-resolve: the IP only
      {"127.0.0.1", kLoopbackUnresolved, true},
      {"%", kLoopbackUnresolved, true},
      // Names and IPs: either may match; names ignore ASCII case.
      {"%.example.com", kRemote, true},
      {"%.EXAMPLE.COM", kRemote, true},
      {"db_.example.com", kRemote, true},
      {"db1.example.co", kRemote, false},
      {"%.example.com", kRemoteUnresolved, false},
      {"10.1.%", kRemote, true},
      {"10.1.2.3", kRemote, true},
      {"10.1.2.30", kRemote, false},
      {"%\\_host", {.host_name = "my_host", .ip = ""}, true},
      {"%\\_host", {.host_name = "myXhost", .ip = ""}, false},
      {"d%1%m", kRemote, true},
      {"%%", kRemote, true},
      // ip/netmask: the address bits under the mask equal the network as written.
      {"10.0.0.0/255.0.0.0", kRemote, true},
      {"10.0.0.0/255.0.0.0", kRemoteUnresolved, true},
      {"10.0.0.1/255.0.0.0", kRemote, false},  // not masked first: matches nothing
      {"10.1.2.0/255.255.255.0", kRemote, true},
      {"010.001.002.000/255.255.255.000", kRemote, true},
      {"10.0.0.0/255.0.0.0", mapped, true},  // ::ffff:10.1.2.3 is 10.1.2.3 to the server
      {"10.1.2.3", mapped, true},
      {"10.0.0.0/255.0.0.0", v6, false},
      {"10.0.0.256/255.0.0.0", kRemote, false},
      // IPv6: text, byte for byte, in the canonical form the server writes.
      {"fe80::1", v6, true},
      {"fe80::%", v6, true},
      {"FE80::1", v6, false},
      {"fe80:0:0:0:0:0:0:1", v6, false},
      {"fe80::1", {.host_name = "", .ip = "FE80:0:0::1"}, true},
      {"::1", {.host_name = "localhost", .ip = "::1"}, true},
      {"fe80::/ffff::", v6, false},                    // no IPv6 netmasks
      {"::2", {.host_name = "", .ip = "::2"}, false},  // IPv4-compatible: 0.0.0.2
      {"0.0.0.2", {.host_name = "", .ip = "::2"}, true},
  });
}

std::vector<AccountHost> Rows(std::initializer_list<std::pair<const char*, const char*>> rows) {
  std::vector<AccountHost> out;
  for (const auto& [user, host] : rows) out.push_back({.user = user, .host = host});
  return out;
}

std::string Name(const AccountHost& row) { return "'" + row.user + "'@'" + row.host + "'"; }

// The rows `user` gets from `origin` one after the other: the winner, then the winner once the
// first is dropped, and so on (how the server was probed).
std::vector<std::string> Peel(std::vector<AccountHost> rows, std::string_view user,
                              const ConnectionOrigin& origin) {
  std::vector<std::string> order;
  while (const auto index = MatchAccount(rows, user, origin)) {
    order.push_back(Name(rows[*index]));
    rows.erase(rows.begin() + static_cast<std::ptrdiff_t>(*index));
  }
  return order;
}

struct OrderCase {
  std::string_view name;
  std::vector<AccountHost> rows;  // in the order they were created
  std::vector<std::string> socket;
  std::vector<std::string> tcp;  // from 127.0.0.1, host name "localhost"
};

// Observed on MariaDB 10.11.19: accounts of user 'mt' (and anonymous ones) with distinct
// passwords; a login as mt through the socket and through TCP 127.0.0.1; the account whose
// password worked (and CURRENT_USER()) dropped, and again, until none matched.
TEST(AuthAccountMatchTest, OrderObservedOnMariaDb1011) {
  const std::vector<OrderCase> cases = {
      {"exact before wildcards; exact ties by descending Host",
       Rows({{"mt", "%"},
             {"mt", "127.0.0.%"},
             {"mt", "127.0.0.1"},
             {"mt", "localhost"},
             {"mt", "127.%"},
             {"mt", "127.0.0.0/255.255.255.0"}}),
       {"'mt'@'localhost'", "'mt'@'%'"},
       {"'mt'@'localhost'", "'mt'@'127.0.0.1'", "'mt'@'127.0.0.0/255.255.255.0'",
        "'mt'@'127.0.0.%'", "'mt'@'127.%'", "'mt'@'%'"}},
      {"an anonymous row with a more specific host wins",
       Rows({{"mt", "%"}, {"", "localhost"}, {"", "%"}, {"mt", "127.0.0.%"}}),
       {"''@'localhost'", "'mt'@'%'", "''@'%'"},
       {"''@'localhost'", "'mt'@'127.0.0.%'", "'mt'@'%'", "''@'%'"}},
      {"named before anonymous when equally specific",
       Rows({{"", "localhost"}, {"mt", "127.0.0.1"}, {"", "127.0.0.1"}}),
       {"''@'localhost'"},
       {"'mt'@'127.0.0.1'", "''@'localhost'", "''@'127.0.0.1'"}},
      {"anonymous wildcards rank by their hosts",
       Rows({{"mt", "%"}, {"", "l%"}, {"", "%host"}, {"mt", "lo%"}}),
       {"''@'%host'", "'mt'@'lo%'", "''@'l%'", "'mt'@'%'"},
       {"''@'%host'", "'mt'@'lo%'", "''@'l%'", "'mt'@'%'"}},
      {"other user names do not apply, byte for byte",
       Rows({{"mt", "127.0.0.1"}, {"", "%"}, {"MT", "localhost"}}),
       {"''@'%'"},
       {"'mt'@'127.0.0.1'", "''@'%'"}},
      {"'_' before '%'; on ties the earlier first wildcard",
       Rows({{"mt", "127.0.0._"}, {"mt", "127.0._.1"}, {"mt", "127.0.0.%"}}),
       {},
       {"'mt'@'127.0._.1'", "'mt'@'127.0.0._'", "'mt'@'127.0.0.%'"}},
      {"one '_' each: the earlier first wildcard",
       Rows({{"mt", "_ocalhost"}, {"mt", "l_calhost"}, {"mt", "127.0.0._"}}),
       {"'mt'@'_ocalhost'", "'mt'@'l_calhost'"},
       {"'mt'@'_ocalhost'", "'mt'@'l_calhost'", "'mt'@'127.0.0._'"}},
      {"'%': more characters, then fewer '%', then fewer '_'",
       Rows({{"mt", "%7.0.0.1"}, {"mt", "127.0.0.%"}, {"mt", "127.0%.0.%"}, {"mt", "127._.0.%"}}),
       {},
       {"'mt'@'127.0.0.%'", "'mt'@'127._.0.%'", "'mt'@'127.0%.0.%'", "'mt'@'%7.0.0.1'"}},
      {"'%' with as many characters: the earlier first wildcard",
       Rows({{"mt", "l%"}, {"mt", "%t"}, {"mt", "local%"}, {"mt", "%host"}}),
       {"'mt'@'local%'", "'mt'@'%host'", "'mt'@'%t'", "'mt'@'l%'"},
       {"'mt'@'local%'", "'mt'@'%host'", "'mt'@'%t'", "'mt'@'l%'"}},
      // Empty and mixed-case hosts were INSERTed into mysql.global_priv (CREATE USER stores ''
      // as '%' and lower-cases the host), then FLUSH PRIVILEGES.
      {"'' ties with '%': the first loaded",
       Rows({{"mt", ""}, {"mt", "%"}, {"mt", "127.%"}}),
       {"'mt'@''", "'mt'@'%'"},
       {"'mt'@'127.%'", "'mt'@''", "'mt'@'%'"}},
      {"'%' ties with '': the first loaded",
       Rows({{"mt", "%"}, {"mt", ""}, {"mt", "127.%"}}),
       {"'mt'@'%'", "'mt'@''"},
       {"'mt'@'127.%'", "'mt'@'%'", "'mt'@''"}},
      {"case variants: descending bytes",
       Rows({{"mt", "LocalHost"}, {"mt", "localhost"}, {"mt", "LOCALHOST"}}),
       {"'mt'@'localhost'", "'mt'@'LocalHost'", "'mt'@'LOCALHOST'"},
       {"'mt'@'localhost'", "'mt'@'LocalHost'", "'mt'@'LOCALHOST'"}},
      {"an upper-case host name is exact",
       Rows({{"mt", "LOCALHOST"}, {"mt", "127.0.0.%"}}),
       {"'mt'@'LOCALHOST'"},
       {"'mt'@'LOCALHOST'", "'mt'@'127.0.0.%'"}},
      {"escaped wildcards are literal and exact",
       Rows({{"mt", "localhos\\t"},
             {"mt", "127.0.0\\_1"},
             {"mt", "127.0.0\\.1"},
             {"mt", "localhost\\"},
             {"mt", "%"}}),
       {"'mt'@'localhos\\t'", "'mt'@'%'"},
       {"'mt'@'localhos\\t'", "'mt'@'127.0.0\\.1'", "'mt'@'%'"}},
      {"netmasks are exact hosts; mask 0.0.0.0 is text",
       Rows({{"mt", "127.0.0.1/255.255.255.255"},
             {"mt", "127.0.0.0/255.0.0.0"},
             {"mt", "127.0.0.1/0.0.0.0"},
             {"mt", "127.1.0.0/255.255.0.0"},
             {"mt", "127.0.0.%"}}),
       {},
       {"'mt'@'127.0.0.1/255.255.255.255'", "'mt'@'127.0.0.0/255.0.0.0'", "'mt'@'127.0.0.%'"}},
      {"a netmask never matches the socket",
       Rows({{"mt", "127.0.0.0/255.255.255.0"}, {"mt", "l%"}}),
       {"'mt'@'l%'"},
       {"'mt'@'127.0.0.0/255.255.255.0'", "'mt'@'l%'"}},
      {"loopback addresses",
       Rows({{"mt", "127.0.0.1"}, {"mt", "127.0.0.2"}, {"mt", "localhost"}, {"mt", "::1"}}),
       {"'mt'@'localhost'"},
       {"'mt'@'localhost'", "'mt'@'127.0.0.1'"}},
  };
  for (const OrderCase& c : cases) {
    EXPECT_EQ(Peel(c.rows, "mt", kSocket), c.socket) << c.name << " (socket)";
    EXPECT_EQ(Peel(c.rows, "mt", kLoopback), c.tcp) << c.name << " (tcp)";
  }
}

struct MatchCase {
  std::string_view name;
  std::vector<AccountHost> rows;
  std::string_view user;
  ConnectionOrigin origin;
  std::optional<std::size_t> expected;
};

// From the source, for what the test server cannot show.
TEST(AuthAccountMatchTest, MatchAccountBySource) {
  const std::vector<MatchCase> cases = {
      {"no rows", {}, "mt", kSocket, std::nullopt},
      {"only other users", Rows({{"app", "%"}, {"MT", "%"}}), "mt", kSocket, std::nullopt},
      {"no host matches", Rows({{"mt", "10.%"}}), "mt", kLoopback, std::nullopt},
      {"the anonymous user logs in as ''", Rows({{"", "%"}, {"mt", "%"}}), "", kSocket, 0},
      {"unresolved: a name pattern is skipped", Rows({{"mt", "localhost"}, {"mt", "127.%"}}), "mt",
       kLoopbackUnresolved, 1},
      {"remote: a longer suffix first",
       Rows({{"mt", "%"}, {"mt", "%.com"}, {"mt", "%.example.com"}, {"mt", "10.%"}}), "mt", kRemote,
       2},
      {"remote: an IP before a name pattern", Rows({{"mt", "%.example.com"}, {"mt", "10.1.2.3"}}),
       "mt", kRemote, 1},
      {"remote: exact name and exact IP by descending Host",
       Rows({{"mt", "10.1.2.3"}, {"mt", "db1.example.com"}}), "mt", kRemote, 1},
      {"an escaped '%' is a character, not a wildcard",
       Rows({{"mt", "db1.example.co%"}, {"mt", "db1.example.co\\m"}}), "mt", kRemote, 1},
      {"IPv6: text patterns, '%' ranks as usual",
       Rows({{"mt", "%"}, {"mt", "fe80::%"}, {"mt", "fe80::1"}}),
       "mt",
       {.host_name = "", .ip = "fe80::1"},
       2},
  };
  for (const MatchCase& c : cases) {
    EXPECT_EQ(MatchAccount(c.rows, c.user, c.origin), c.expected) << c.name;
  }
}

}  // namespace
}  // namespace longlink::auth
