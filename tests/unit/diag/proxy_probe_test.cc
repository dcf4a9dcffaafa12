#include "diag/proxy_probe.h"

#include <gtest/gtest.h>

namespace longlink::diag {
namespace {

TextResultSet NameValue(std::vector<std::vector<std::string>> rows,
                        std::vector<std::string> columns = {"name", "value"}) {
  return {.columns = std::move(columns), .rows = std::move(rows)};
}

TEST(ProxyProbeTest, TotalsByNameIgnoringUnknownRows) {
  auto totals = ParseProxyTotals(NameValue({{"version", "0.9.0"},
                                            {"pid", "4100"},
                                            {"a_future_row", "x"},
                                            {"logins_last_minute", "600"},
                                            {"logins_total", "50000"},
                                            {"server_connects_last_minute", "1"},
                                            {"server_connects_total", "12"},
                                            {"server_connects_saved_total", "49988"},
                                            {"backend_address", "127.0.0.1:3306"},
                                            {"backend_reachable", "1"},
                                            {"clients_pinned", "2"}}));
  ASSERT_TRUE(totals.ok()) << totals.error().message;
  EXPECT_EQ(totals->version, "0.9.0");
  EXPECT_EQ(totals->logins_last_minute, 600u);
  EXPECT_EQ(totals->server_connects_saved_total, 49988u);
  EXPECT_TRUE(totals->backend_reachable);
  EXPECT_EQ(totals->clients_pinned, 2u);
  EXPECT_EQ(totals->uptime_seconds, 0u);  // Absent: 0.
}

TEST(ProxyProbeTest, TotalsErrors) {
  EXPECT_FALSE(ParseProxyTotals(NameValue({}, {"Variable_name", "Value"})).ok());
  auto bad = ParseProxyTotals(NameValue({{"logins_total", "12x"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "SHOW TOTALS: logins_total is not a number: '12x'");
}

TEST(ProxyProbeTest, StringsFromTheProxyArePrintable) {
  auto totals = ParseProxyTotals(NameValue({{"version", "1.0\x1b[2J\nx"}}));
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->version, "1.0\\x1b[2J\\x0ax");
}

TEST(ProxyProbeTest, PoolsByColumnName) {
  TextResultSet result{
      .columns = {"pool", "user", "sv_idle", "mode", "sv_active", "max_connections", "cl_waiting",
                  "maxwait_us", "pin_reasons", "new_column"},
      .rows = {{"app", "app", "1", "session", "7", "8", "2", "1500", "user_variable=2", "?"},
               {"ro", "ro", "0", "transaction", "0", "8", "0", "0", "", "?"}}};
  auto pools = ParseProxyPools(result);
  ASSERT_TRUE(pools.ok()) << pools.error().message;
  ASSERT_EQ(pools->size(), 2u);
  const ProxyPool& app = (*pools)[0];
  EXPECT_EQ(app.user, "app");
  EXPECT_EQ(app.mode, "session");
  EXPECT_EQ(app.ServerConnections(), 8u);
  EXPECT_EQ(app.cl_waiting, 2u);
  EXPECT_EQ(app.maxwait_us, 1500u);
  EXPECT_EQ(app.pin_reasons, "user_variable=2");
  EXPECT_TRUE(app.NearLimit());
  EXPECT_FALSE((*pools)[1].NearLimit());

  result.rows[0][2] = "-1";
  EXPECT_FALSE(ParseProxyPools(result).ok());
  EXPECT_FALSE(ParseProxyPools(TextResultSet{.columns = {"user"}, .rows = {}}).ok());
}

TEST(ProxyProbeTest, ConfigListenersOverWhatTheFileSaid) {
  ProxyListeners known;
  known.tcp = {"0.0.0.0:1"};
  known.backend_address = "10.0.0.5:3306";
  auto config = ParseProxyConfig(NameValue({{"listen.tcp", "127.0.0.1:6033, [::1]:6034"},
                                            {"listen.unix_socket", "/run/l.sock"},
                                            {"pool.mode", "transaction"},
                                            {"pool.max_connections", "16"},
                                            {"other.key", "x"}},
                                           {"key", "value"}),
                                 known);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->tcp, (std::vector<std::string>{"127.0.0.1:6033", "[::1]:6034"}));
  EXPECT_EQ(config->unix_socket, "/run/l.sock");
  EXPECT_EQ(config->backend_address, "10.0.0.5:3306");  // Kept: not in the result.
  EXPECT_EQ(config->pool_mode, "transaction");
  EXPECT_EQ(config->pool_max_connections, 16u);

  auto empty = ParseProxyConfig(NameValue({{"listen.tcp", ""}}, {"key", "value"}), known);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->tcp.empty());
}

TEST(ProxyProbeTest, UnreachableConsole) {
  ProxyStatus status;
  status.pid = 1;
  status.admin_socket = ::testing::TempDir() + "no-such-console.sock";
  ReadProxyFigures(&status, {.timeout = std::chrono::milliseconds(500)});
  EXPECT_EQ(status.reach, ProxyReach::kUnreachable);
  EXPECT_NE(status.error.find("No such file or directory"), std::string::npos);
}

}  // namespace
}  // namespace longlink::diag
