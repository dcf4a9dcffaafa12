#include "diag/render.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "report_fixture.h"

namespace longlink::diag {
namespace {

using namespace testing;

Report ChurnReport() {
  SocketOwners owners;
  owners.processes = {{.pid = 812, .uid = 33, .command = "php\"fpm", .cmdline = "php-fpm"}};
  owners.owner_of = {{300, 0}};
  KernelCounters counters;
  counters.values = {{"TcpExtTW", 123456}, {"TcpActiveOpens", 200000}};
  return BuildReport(MysqlChurn(), DefaultSettings(), counters, owners);
}

TEST(RenderJsonTest, FollowsTheDocumentedSchema) {
  Report r = ChurnReport();
  auto j = nlohmann::json::parse(RenderJson(r, true));
  EXPECT_EQ(j["schema"], "longlink.diagnose/1");
  for (const char* key : {"generated_at",
                          "host",
                          "netns",
                          "source",
                          "source_note",
                          "partial",
                          "partial_reasons",
                          "window_seconds",
                          "total",
                          "states",
                          "fin_wait2_orphans",
                          "destinations",
                          "port_pressure",
                          "close_wait",
                          "close_wait_unattributed",
                          "listening_ports",
                          "port_range",
                          "counters",
                          "rates",
                          "sysctls",
                          "findings",
                          "verdict",
                          "proxy_config"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["states"].size(), 11u);  // every state, zero included
  EXPECT_EQ(j["states"]["TIME_WAIT"], 30412);
  EXPECT_EQ(j["total"], 30413);
  EXPECT_EQ(j["partial"], false);
  EXPECT_TRUE(j["rates"].is_null());
  EXPECT_TRUE(j["netns"].is_null());

  const auto& d = j["destinations"][0];
  EXPECT_EQ(d["direction"], "outbound");
  EXPECT_EQ(d["address"], "10.0.0.5");
  EXPECT_EQ(d["port"], 3306);
  EXPECT_EQ(d["service"], "mysql");
  EXPECT_EQ(d["states"], (nlohmann::json{{"ESTABLISHED", 1}, {"TIME_WAIT", 30412}}));
  EXPECT_EQ(d["closed_first_by"], "this host (client)");
  EXPECT_NEAR(d["close_rate_recent"].get<double>(), 507, 1);
  EXPECT_NEAR(d["close_rate_60s"].get<double>(), 506.87, 0.01);
  EXPECT_EQ(d["peers"], 3);
  EXPECT_EQ(d["processes"][0]["pid"], 812);

  EXPECT_EQ(j["port_pressure"][0]["usable_ports"], 28232);
  EXPECT_EQ(j["port_pressure"][0]["level"], "ok");
  EXPECT_EQ(j["counters"]["TcpExtTW"], 123456);
  EXPECT_TRUE(j["counters"]["TcpExtTWRecycled"].is_null());
  EXPECT_EQ(j["findings"][0]["code"], "short_lived_connections");
  EXPECT_EQ(j["findings"][0]["severity"], "critical");
  EXPECT_TRUE(j["proxy_config"].is_string());
  EXPECT_EQ(j["sysctls"][0]["name"], "net.ipv4.tcp_tw_reuse");
  EXPECT_EQ(j["sysctls"][0]["advice"], "leave");
}

TEST(RenderJsonTest, CompactFormIsOneLine) {
  Report r = ChurnReport();
  r.rates = Rates{.interval_seconds = 2, .tw_entered = 505};
  std::string line = RenderJson(r, false);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["rates"]["tw_entered"], 505.0);
  EXPECT_EQ(j["rates"]["interval_seconds"], 2.0);
}

TEST(RenderPrometheusTest, EveryLineIsAValidSample) {
  Report r = ChurnReport();
  std::string text = RenderPrometheus(r, 10);
  std::istringstream lines(text);
  std::string line;
  // name{label="value",...} number: label values may hold escaped quotes.
  const std::regex sample(
      R"re(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$)re");
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 20);
  EXPECT_NE(text.find("longlink_tcp_sockets{state=\"TIME_WAIT\"} 30412\n"), std::string::npos);
  EXPECT_NE(
      text.find("longlink_tcp_destination_sockets{direction=\"outbound\",address=\"10.0.0.5\","
                "port=\"3306\",service=\"mysql\",state=\"TIME_WAIT\"} 30412\n"),
      std::string::npos);
  EXPECT_NE(text.find("longlink_sysctl{name=\"net.ipv4.tcp_tw_reuse\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("longlink_diagnose_partial 0\n"), std::string::npos);
  EXPECT_NE(text.find("longlink_diagnose_findings{severity=\"critical\"} 1\n"), std::string::npos);
}

TEST(RenderPrometheusTest, EscapesLabelValues) {
  Report r = BuildReport({}, DefaultSettings());
  r.close_wait.push_back({{.pid = 1, .uid = 0, .command = "a\"b\\c\nd", .cmdline = ""}, 2, {}});
  std::string text = RenderPrometheus(r, 10);
  EXPECT_NE(text.find(R"(command="a\"b\\c\nd")"), std::string::npos) << text;
}

TEST(RenderTextTest, PlainTextHasTheStoryAndNoEscapes) {
  Report r = ChurnReport();
  std::string text = RenderText(r, {.color = false, .unicode = false, .top = 10});
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  for (const char* part : {"TCP sockets by state", "TIME_WAIT", "30,412", "10.0.0.5:3306 (mysql)",
                           "this host (client)", "Kernel settings", "net.ipv4.tcp_tw_recycle",
                           "Findings", "CRITICAL", "Verdict: ", "[backend]"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part;
  }
}

TEST(RenderTextTest, ColourOnlyWhenAsked) {
  Report r = ChurnReport();
  EXPECT_NE(RenderText(r, {.color = true, .unicode = true, .top = 10}).find("\x1b[1;31m"),
            std::string::npos);
}

TEST(RenderTextTest, TopLimitsRows) {
  std::vector<SocketRecord> s;
  for (std::uint16_t port = 1000; port < 1020; ++port) {
    AddTimeWait(&s, "10.0.0.9", 40000, Ep("10.0.0.5", port), 1, [](int) { return 1000u; });
  }
  Report r = BuildReport(s, DefaultSettings());
  std::string text = RenderText(r, {.color = false, .unicode = false, .top = 3});
  EXPECT_NE(text.find("top 3 of 20"), std::string::npos);
  EXPECT_EQ(text.find("10.0.0.5:1019"), std::string::npos);
}

}  // namespace
}  // namespace longlink::diag

namespace longlink::diag {
namespace {

using namespace testing;

Report ProxyReport() {
  ProxyStatus p;
  p.pid = 4100;
  p.admin_socket = "/run/longlink/admin \"x\".sock";
  p.reach = ProxyReach::kRead;
  p.totals.version = "0.9.0";
  p.totals.uptime_seconds = 7300;
  p.totals.logins_total = 50'000;
  p.totals.logins_last_minute = 3000;
  p.totals.server_connects_total = 12;
  p.totals.server_connects_last_minute = 2;
  p.totals.server_connects_saved_total = 49'988;
  p.totals.backend_address = "10.0.0.5:3306";
  p.totals.backend_reachable = true;
  p.config.tcp = {"127.0.0.1:6033"};
  p.config.unix_socket = "/run/longlink/mysql.sock";
  ProxyPool pool;
  pool.user = "app";
  pool.pool = "app\"1";
  pool.sv_active = 20;
  pool.max_connections = 20;
  pool.cl_waiting = 2;
  p.pools = {pool};
  ProxyStatus off;
  off.pid = 4200;
  off.reach = ProxyReach::kNoAdminSocket;
  off.error = "its config has no [admin] unix_socket";
  return BuildReport({}, DefaultSettings(), {}, {}, {}, {p, off});
}

TEST(RenderProxyTest, JsonCarriesTheProxies) {
  auto j = nlohmann::json::parse(RenderJson(ProxyReport(), true));
  ASSERT_EQ(j["proxies"].size(), 2u);
  const auto& p = j["proxies"][0];
  EXPECT_EQ(p["pid"], 4100);
  EXPECT_EQ(p["reach"], "read");
  EXPECT_EQ(p["figures"]["time_wait_avoided"], 2998);
  EXPECT_EQ(p["figures"]["server_connects_saved_total"], 49988);
  EXPECT_EQ(p["listen"]["unix_socket"], "/run/longlink/mysql.sock");
  EXPECT_EQ(p["pools_near_limit"][0]["clients_waiting"], 2);
  EXPECT_EQ(j["proxies"][1]["reach"], "no_admin_socket");
  EXPECT_TRUE(j["proxies"][1]["figures"].is_null());
}

TEST(RenderProxyTest, PrometheusSeriesAreWellFormed) {
  std::string text = RenderPrometheus(ProxyReport(), 10);
  EXPECT_NE(text.find("longlink_diag_proxy_time_wait_avoided{pid=\"4100\",admin_socket="
                      "\"/run/longlink/admin \\\"x\\\".sock\"} 2998\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("longlink_diag_proxy_up{pid=\"4200\",admin_socket=\"\",reach=\"no_admin_"
                      "socket\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("pool=\"app\\\"1\"} 2\n"), std::string::npos);
  // Every sample follows its own family's HELP and TYPE.
  std::string family;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
    } else if (line[0] != '#') {
      EXPECT_EQ(line.substr(0, line.find_first_of("{ ")), family) << line;
    }
  }
}

TEST(RenderProxyTest, TextShowsWhatTheProxySaves) {
  std::string text = RenderText(ProxyReport(), {});
  EXPECT_NE(text.find("longlink proxy pid 4100 (0.9.0, up 2 h 1 min, admin console"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("About 2,998 TIME_WAIT sockets to the database avoided now"),
            std::string::npos);
  EXPECT_NE(text.find("Pools near their limits"), std::string::npos);
  EXPECT_NE(text.find("longlink proxy pid 4200"), std::string::npos);
  EXPECT_NE(text.find("no admin console: its config has no [admin] unix_socket"),
            std::string::npos);
  if (std::getenv("SHOW_TEXT")) std::puts(text.c_str());
}

}  // namespace
}  // namespace longlink::diag
