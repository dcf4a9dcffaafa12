#include "admin/admin_tables.h"

#include <gtest/gtest.h>

#include <map>

#include "sample_snapshot.h"

namespace longlink::admin {
namespace {

// The table's rows as column name -> value.
std::vector<std::map<std::string, std::string>> Rows(const ResultTable& table) {
  std::vector<std::map<std::string, std::string>> rows;
  for (const auto& values : table.rows) {
    EXPECT_EQ(values.size(), table.columns.size());
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < values.size() && i < table.columns.size(); ++i) {
      row[table.columns[i].name] = values[i];
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST(AdminTablesTest, PoolsShowClientsByStateAndPinReasons) {
  config::ProxyConfig config;
  config.pool.max_connections = 20;
  const auto rows = Rows(PoolsTable(testing::SampleSnapshot(), config));
  ASSERT_EQ(rows.size(), 2U);
  const auto& pool = rows[0];
  EXPECT_EQ(pool.at("cl_active"), "3");
  EXPECT_EQ(pool.at("cl_waiting"), "2");
  EXPECT_EQ(pool.at("cl_idle"), "5");  // 10 clients - 3 holding - 2 waiting.
  EXPECT_EQ(pool.at("cl_pinned"), "3");
  EXPECT_EQ(pool.at("pin_reasons"), "user_variable=2,last_insert_id=1");
  EXPECT_EQ(pool.at("max_connections"), "20");
}

TEST(AdminTablesTest, IdleClientsNeverBelowZero) {
  ProxySnapshot snapshot = testing::SampleSnapshot();
  snapshot.pools[0].clients = 1;  // A waiter at login is not a client of the pool yet.
  const auto rows = Rows(PoolsTable(snapshot, config::ProxyConfig{}));
  EXPECT_EQ(rows[0].at("cl_idle"), "0");
}

TEST(AdminTablesTest, TotalsSayWhatPoolingSaved) {
  ProxySnapshot snapshot = testing::SampleSnapshot();
  const auto rows = Rows(TotalsTable(snapshot));
  std::map<std::string, std::string> totals;
  for (const auto& row : rows) totals[row.at("name")] = row.at("value");
  EXPECT_EQ(totals.at("logins_total"), "2000");  // Two pools of 1000.
  EXPECT_EQ(totals.at("server_connects_total"), "24");
  EXPECT_EQ(totals.at("server_connects_saved_total"), "1976");
  EXPECT_EQ(totals.at("uptime_seconds"), "3600");
  EXPECT_EQ(totals.at("backend_reachable"), "0");
  EXPECT_EQ(totals.at("clients_pinned"), "6");
  snapshot.backend.connects = 5000;  // More connects than logins: nothing saved, not negative.
  for (const auto& row : Rows(TotalsTable(snapshot))) {
    if (row.at("name") == "server_connects_saved_total") {
      EXPECT_EQ(row.at("value"), "0");
    }
  }
}

TEST(AdminTablesTest, StatsRatesAreOverTheBase) {
  const ProxySnapshot now = testing::SampleSnapshot();
  RateBase base{.snapshot = now, .taken_at = {}};
  for (auto& pool : base.snapshot.pools) pool.queries -= 150;  // 150 queries in 15 s.
  const SteadyTime at = SteadyTime{} + std::chrono::seconds(15);
  const auto rows = Rows(StatsTable(now, base, at));
  ASSERT_EQ(rows.size(), 3U);  // Two pools and the sum.
  EXPECT_EQ(rows[0].at("queries_per_s"), "10.000");
  EXPECT_EQ(rows[2].at("user"), "*");
  EXPECT_EQ(rows[2].at("queries"), "8000");
  EXPECT_EQ(rows[2].at("queries_per_s"), "20.000");
}

TEST(AdminTablesTest, ConfigHidesSecrets) {
  config::ProxyConfig config;
  config.users.push_back({.name = "app", .password = "s3cret"});
  config.admin.users.push_back({.name = "ops", .password = "0ps"});
  config.auth.user = "lookup";
  config.auth.password = "l00kup";
  const ResultTable table = ConfigTable(config);
  for (const auto& row : table.rows) {
    for (const std::string& value : row) {
      EXPECT_EQ(value.find("s3cret"), std::string::npos);
      EXPECT_EQ(value.find("0ps"), std::string::npos);
      EXPECT_EQ(value.find("l00kup"), std::string::npos);
    }
  }
}

TEST(AdminTablesTest, ClientNamesAreEscaped) {
  proxy::ClientInfo client{.id = 7, .user = "evil\n\x1b[31m", .address = "unix", .state = "idle"};
  const auto rows = Rows(ClientsTable({client}, SteadyTime{}, std::nullopt));
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].at("user").find('\n'), std::string::npos);
  EXPECT_EQ(rows[0].at("user").find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace longlink::admin
