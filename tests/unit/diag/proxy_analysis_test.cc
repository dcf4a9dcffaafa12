#include "diag/proxy_analysis.h"

#include <gtest/gtest.h>

#include "report_fixture.h"

namespace longlink::diag {
namespace {

using namespace testing;

// A proxy on this host: TCP 127.0.0.1:6033 and /run/longlink/mysql.sock, pooling
// 10.0.0.5:3306, whose figures were read.
ProxyStatus ReadProxy(std::uint64_t logins_last_minute, std::uint64_t connects_last_minute) {
  ProxyStatus p;
  p.pid = 4100;
  p.admin_socket = "/run/longlink/admin.sock";
  p.reach = ProxyReach::kRead;
  p.totals.version = "0.9.0";
  p.totals.logins_total = 50'000;
  p.totals.logins_last_minute = logins_last_minute;
  p.totals.server_connects_total = 12;
  p.totals.server_connects_last_minute = connects_last_minute;
  p.totals.server_connects_saved_total = 49'988;
  p.totals.backend_address = "10.0.0.5:3306";
  p.totals.backend_reachable = true;
  p.config.tcp = {"127.0.0.1:6033"};
  p.config.unix_socket = "/run/longlink/mysql.sock";
  p.config.backend_address = "10.0.0.5:3306";
  p.config.pool_max_connections = 20;
  return p;
}

// `count` TIME_WAIT sockets closed by this host toward `remote`, spread over the last minute.
std::vector<SocketRecord> Churn(Endpoint remote, int count) {
  std::vector<SocketRecord> s;
  AddTimeWait(&s, "127.0.0.1", 33000, remote, count, [count](int i) {
    return static_cast<std::uint32_t>(60000 - static_cast<long>(i) * 60000 / count);
  });
  return s;
}

const Finding* FindCode(const Report& r, std::string_view code, std::string_view subject = "") {
  for (const auto& f : r.findings) {
    if (f.code == code && (subject.empty() || f.subject == subject)) return &f;
  }
  return nullptr;
}

std::string Codes(const Report& r) {
  std::string out;
  for (const auto& f : r.findings) out += f.code + " (" + f.subject + ")\n";
  return out;
}

// One row per situation: the sockets seen, the proxy's state, and what the report must say.
struct Case {
  const char* name;
  std::vector<SocketRecord> sockets;
  ProxyStatus proxy;
  const char* code;            // A finding that must be there.
  const char* subject;         // Its subject.
  const char* advice_part;     // Text its advice must hold.
  const char* verdict_part;    // Text the verdict must hold.
  bool proxy_config_expected;  // Whether a proxy configuration is still suggested.
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  {
    // The database sees no churn: the proxy pools it.
    std::vector<SocketRecord> s;
    s.push_back(Sock(TcpState::kEstablished, Ep("10.0.0.9", 50000), Ep("10.0.0.5", 3306), 5));
    cases.push_back({"pooled, no churn", s, ReadProxy(3000, 2), "proxy_pooling",
                     "longlink proxy pid 4100",
                     "about 2,998 connections to the database that would be in TIME_WAIT",
                     "Healthy: no connection churn, CLOSE_WAIT leak or port shortage. No churn "
                     "to 10.0.0.5:3306: longlink proxy pid 4100 pools it (3,000 client logins "
                     "took 2 new server connections in the last minute).",
                     false});
  }
  {
    // Clients reach the proxy over TCP, per request.
    auto s = Churn(Ep("127.0.0.1", 6033), 3000);
    s.push_back(Listen("127.0.0.1", 6033));
    // The listening socket makes the client side's TIME_WAIT outbound (local ports are not
    // listening ports) and any proxy-side TIME_WAIT inbound; both name 127.0.0.1:6033.
    cases.push_back({"TCP to the proxy", s, ReadProxy(3000, 0), "short_lived_connections",
                     "127.0.0.1:6033",
                     "Clients reach longlink proxy pid 4100 over TCP (127.0.0.1:6033) and connect "
                     "per request: connect them over its Unix socket (/run/longlink/mysql.sock) "
                     "and this TIME_WAIT disappears.",
                     "connect them over its Unix socket (/run/longlink/mysql.sock)", false});
  }
  {
    // Churn to the database from another process, while the proxy pools it.
    auto s = Churn(Ep("10.0.0.5", 3306), 3000);
    cases.push_back({"bypass", s, ReadProxy(600, 1), "short_lived_connections", "10.0.0.5:3306",
                     "longlink proxy pid 4100 already pools 10.0.0.5:3306, so these connections "
                     "bypass it (it opened 1 server connection in the last minute): point those "
                     "clients at the proxy, over its Unix socket (/run/longlink/mysql.sock) or its "
                     "TCP listener 127.0.0.1:6033.",
                     "bypass it", false});
  }
  {
    // Churn to the database made by the proxy itself.
    auto s = Churn(Ep("10.0.0.5", 3306), 600);
    cases.push_back({"the proxy churns", s, ReadProxy(3000, 600), "short_lived_connections",
                     "10.0.0.5:3306",
                     "longlink proxy pid 4100 itself opened 600 server connections to "
                     "10.0.0.5:3306 in the last minute, for 3,000 client logins",
                     "its server connections do not last", false});
  }
  {
    ProxyStatus p = ReadProxy(100, 0);
    ProxyPool pool;
    pool.user = "app";
    pool.pool = "app/utf8mb4";
    pool.mode = "session";
    pool.sv_active = 18;
    pool.sv_idle = 0;
    pool.max_connections = 20;
    p.pools.push_back(pool);
    cases.push_back({"pool near its limit",
                     {},
                     p,
                     "proxy_pool_near_limit",
                     "longlink proxy pid 4100 pool app/utf8mb4",
                     "Raise pool.max_connections (now 20)",
                     "Healthy",
                     false});
    pool.sv_active = 20;
    pool.cl_waiting = 3;
    pool.maxwait_us = 250'000;
    p.pools = {pool};
    cases.push_back({"clients waiting",
                     {},
                     p,
                     "proxy_pool_near_limit",
                     "longlink proxy pid 4100 pool app/utf8mb4",
                     "slow queries",
                     "Pool app/utf8mb4 (user app) of longlink proxy pid 4100: 20 of 20 server "
                     "connections in use or open, 3 clients waiting, the longest for 250 ms.",
                     false});
  }
  {
    ProxyStatus p = ReadProxy(100, 0);
    p.totals.clients_pinned = 3;
    ProxyPool pool;
    pool.user = "app";
    pool.pool = "app";
    pool.max_connections = 20;
    pool.cl_pinned = 3;
    pool.pin_reasons = "user_variable=2,temporary_table=1";
    p.pools.push_back(pool);
    cases.push_back({"pinned clients",
                     {},
                     p,
                     "proxy_pinned_clients",
                     "longlink proxy pid 4100",
                     "keeps its server connection until it leaves",
                     "Healthy",
                     false});
  }
  {
    ProxyStatus p;
    p.pid = 4100;
    p.config_file = "/etc/longlink/longlink.toml";
    p.reach = ProxyReach::kNoAdminSocket;
    p.error = "its config has no [admin] unix_socket";
    p.config.backend_address = "10.0.0.5:3306";
    cases.push_back({"no admin socket", Churn(Ep("10.0.0.5", 3306), 3000), p, "proxy_admin_off",
                     "longlink proxy pid 4100",
                     "Add [admin] unix_socket = \"/run/longlink/admin.sock\" to "
                     "/etc/longlink/longlink.toml and restart the proxy.",
                     "bypass it", false});
  }
  {
    ProxyStatus p;
    p.pid = 4100;
    p.admin_socket = "/run/longlink/admin.sock";
    p.reach = ProxyReach::kUnreachable;
    p.error = "connect /run/longlink/admin.sock: No such file or directory";
    cases.push_back({"unreachable",
                     {},
                     p,
                     "proxy_admin_unreachable",
                     "longlink proxy pid 4100",
                     "unix_socket = \"/run/longlink/admin.sock\"",
                     "Healthy",
                     false});
    p.reach = ProxyReach::kRefused;
    p.error = "login as nobody refused: error 1045: Access denied";
    cases.push_back({"refused",
                     {},
                     p,
                     "proxy_admin_refused",
                     "longlink proxy pid 4100",
                     "as root or as the proxy's user",
                     "Healthy",
                     false});
  }
  {
    // A proxy for another database: the churn to this one still gets a configuration.
    ProxyStatus p = ReadProxy(10, 0);
    p.config.backend_address = "10.0.0.6:3306";
    cases.push_back({"proxy for another database", Churn(Ep("10.0.0.5", 3306), 3000), p,
                     "short_lived_connections", "10.0.0.5:3306",
                     "Run `longlink proxy` in front of 10.0.0.5:3306", "No churn to 10.0.0.6:3306",
                     true});
  }
  return cases;
}

TEST(ProxyAnalysisTest, FindingsAndVerdicts) {
  for (const auto& c : Cases()) {
    SCOPED_TRACE(c.name);
    Report r = BuildReport(c.sockets, DefaultSettings(), {}, {}, {}, {c.proxy});
    const Finding* f = FindCode(r, c.code, c.subject);
    ASSERT_NE(f, nullptr) << Codes(r);
    EXPECT_NE((f->title + " " + f->advice).find(c.advice_part), std::string::npos)
        << f->title << "\n"
        << f->advice;
    EXPECT_NE((r.verdict + " " + f->title + ".").find(c.verdict_part), std::string::npos)
        << r.verdict;
    EXPECT_EQ(r.proxy_config.has_value(), c.proxy_config_expected);
  }
}

TEST(ProxyAnalysisTest, NoProxyKeepsTheOldAdvice) {
  Report r = BuildReport(Churn(Ep("10.0.0.5", 3306), 3000), DefaultSettings());
  const Finding* f = FindCode(r, "short_lived_connections");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->advice.find("Run `longlink proxy` in front of"), std::string::npos);
  EXPECT_TRUE(r.proxy_config.has_value());
  EXPECT_EQ(r.verdict.find("No churn"), std::string::npos);
}

TEST(ProxyAnalysisTest, ListenerMatching) {
  ProxyStatus p;
  p.config.tcp = {"0.0.0.0:6033", "[::1]:6034", "db-proxy.local:6035"};
  EXPECT_TRUE(IsProxyListener(p, Ep("10.1.2.3", 6033)));  // Wildcard.
  EXPECT_TRUE(IsProxyListener(p, Ep("::1", 6034)));
  EXPECT_FALSE(IsProxyListener(p, Ep("127.0.0.1", 6034)));
  EXPECT_TRUE(IsProxyListener(p, Ep("10.0.0.1", 6035)));  // A name: port only.
  EXPECT_FALSE(IsProxyListener(p, Ep("10.0.0.1", 3306)));
}

TEST(ProxyAnalysisTest, TimeWaitAvoidedAndNearLimit) {
  ProxyStatus p = ReadProxy(10, 30);
  EXPECT_EQ(p.TimeWaitAvoided(), 0u);  // Never negative.
  p = ReadProxy(700, 4);
  EXPECT_EQ(p.TimeWaitAvoided(), 696u);
  ProxyPool pool;
  pool.max_connections = 10;
  pool.sv_active = 8;
  EXPECT_FALSE(pool.NearLimit());
  pool.sv_opening = 1;
  EXPECT_TRUE(pool.NearLimit());  // 9 of 10.
  pool = {};
  pool.max_connections = 10;
  pool.maxwait_us = 1;
  EXPECT_TRUE(pool.NearLimit());
}

}  // namespace
}  // namespace longlink::diag
