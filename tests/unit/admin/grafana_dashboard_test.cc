// contrib/grafana/longlink-dashboard.json must only query metrics RenderPrometheus writes, so the
// dashboard cannot drift from the code.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "admin/metrics_text.h"
#include "exposition_parser.h"
#include "sample_snapshot.h"

namespace longlink::admin {
namespace {

using nlohmann::json;

json LoadDashboard() {
  std::ifstream in(LONGLINK_DASHBOARD);
  EXPECT_TRUE(in.good()) << "cannot open " << LONGLINK_DASHBOARD;
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
}

// Every string under a key "expr", "query" or "definition" (PromQL and label_values queries).
void CollectQueries(const json& node, std::vector<std::string>& out) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (value.is_string() && (key == "expr" || key == "query" || key == "definition")) {
        out.push_back(value.get<std::string>());
      }
      CollectQueries(value, out);
    }
  } else if (node.is_array()) {
    for (const auto& item : node) CollectQueries(item, out);
  }
}

// The metric names of `queries` that are not families of `exposition`, a histogram family's
// _bucket, _sum and _count series counting as the family's.
std::set<std::string> UnknownMetrics(const std::vector<std::string>& queries,
                                     const testing::Exposition& exposition,
                                     std::set<std::string>* used = nullptr) {
  static const std::regex kName("longlink_[a-z_]+");
  std::set<std::string> unknown;
  for (const std::string& query : queries) {
    for (auto it = std::sregex_iterator(query.begin(), query.end(), kName);
         it != std::sregex_iterator(); ++it) {
      const std::string name = it->str();
      if (used) used->insert(name);
      if (exposition.Family(name) != nullptr) continue;
      bool histogram_series = false;
      for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
        if (!name.ends_with(suffix)) continue;
        const auto* family = exposition.Family(name.substr(0, name.size() - suffix.size()));
        histogram_series = histogram_series || (family && family->type == "histogram");
      }
      if (!histogram_series) unknown.insert(name);
    }
  }
  return unknown;
}

testing::Exposition Rendered() {
  testing::Exposition e = testing::ParseExposition(RenderPrometheus(testing::SampleSnapshot()));
  EXPECT_TRUE(e.errors.empty());
  return e;
}

TEST(GrafanaDashboardTest, EveryMetricItQueriesIsRendered) {
  const json dashboard = LoadDashboard();
  ASSERT_FALSE(dashboard.is_discarded()) << "the dashboard is not valid JSON";
  std::vector<std::string> queries;
  CollectQueries(dashboard, queries);
  std::set<std::string> used;
  EXPECT_EQ(UnknownMetrics(queries, Rendered(), &used), std::set<std::string>{});
  // The panels the dashboard promises use these (so the check above has something to check).
  for (const char* name :
       {"longlink_backend_up", "longlink_pool_clients", "longlink_pool_server_connections",
        "longlink_pool_logins_total", "longlink_pool_server_connects_total",
        "longlink_pool_queries_total", "longlink_pool_transactions_total",
        "longlink_pool_errors_total", "longlink_pool_command_duration_seconds_bucket",
        "longlink_pool_checkout_wait_seconds_bucket", "longlink_pool_longest_wait_seconds",
        "longlink_pool_pinned_clients", "longlink_pool_client_received_bytes_total",
        "longlink_pool_client_sent_bytes_total", "longlink_pool_prepared_statements_asked_total",
        "longlink_pool_prepared_statements_sent_total", "longlink_pool_statement_cache_hits_total",
        "longlink_backend_connect_failures_total"}) {
    EXPECT_TRUE(used.contains(name)) << name;
  }
}

TEST(GrafanaDashboardTest, TheCheckCatchesAnUnknownName) {
  const testing::Exposition e = Rendered();
  EXPECT_EQ(UnknownMetrics({"rate(longlink_pool_querys_total[5m])",
                            "longlink_pool_clients_bucket + longlink_pool_clients",
                            "histogram_quantile(0.5, longlink_pool_checkout_wait_seconds_bucket)"},
                           e),
            (std::set<std::string>{"longlink_pool_querys_total", "longlink_pool_clients_bucket"}));
}

TEST(GrafanaDashboardTest, IsImportableWithPrometheusInputAndVariables) {
  const json dashboard = LoadDashboard();
  ASSERT_FALSE(dashboard.is_discarded());
  ASSERT_TRUE(dashboard.contains("__inputs"));
  bool prometheus_input = false;
  for (const json& input : dashboard["__inputs"]) {
    prometheus_input = prometheus_input || (input.value("name", "") == "DS_PROMETHEUS" &&
                                            input.value("type", "") == "datasource" &&
                                            input.value("pluginId", "") == "prometheus");
  }
  EXPECT_TRUE(prometheus_input);

  std::map<std::string, std::string> variables;  // Name -> definition.
  for (const json& variable : dashboard["templating"]["list"]) {
    variables[variable.value("name", "")] = variable.value("definition", "");
  }
  ASSERT_TRUE(variables.contains("user"));
  ASSERT_TRUE(variables.contains("pool"));
  EXPECT_TRUE(variables["user"].starts_with("label_values(")) << variables["user"];
  EXPECT_TRUE(variables["pool"].starts_with("label_values(")) << variables["pool"];

  ASSERT_TRUE(dashboard["panels"].is_array());
  EXPECT_GE(dashboard["panels"].size(), 12u);
  std::set<int> ids;
  for (const json& panel : dashboard["panels"]) {
    const std::string title = panel.value("title", "");
    EXPECT_FALSE(title.empty());
    EXPECT_TRUE(ids.insert(panel.value("id", 0)).second) << "duplicate panel id: " << title;
    EXPECT_EQ(panel["datasource"].value("uid", ""), "${DS_PROMETHEUS}") << title;
    ASSERT_TRUE(panel["targets"].is_array() && !panel["targets"].empty()) << title;
    for (const json& target : panel["targets"]) {
      EXPECT_FALSE(target.value("expr", "").empty()) << title;
      EXPECT_EQ(target["datasource"].value("uid", ""), "${DS_PROMETHEUS}") << title;
    }
  }
}

}  // namespace
}  // namespace longlink::admin
