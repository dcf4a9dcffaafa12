#include "admin/metrics_text.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "common/latency_histogram.h"
#include "exposition_parser.h"
#include "proxy/pin_reason.h"
#include "sample_snapshot.h"

namespace longlink::admin {
namespace {

using testing::Exposition;
using testing::Labels;
using testing::ParseExposition;
using testing::SamplePool;
using testing::SampleSnapshot;

// The families docs/METRICS.md promises, with their types.
const std::map<std::string, std::string>& ExpectedFamilies() {
  static const std::map<std::string, std::string> kFamilies = {
      {"longlink_info", "gauge"},
      {"longlink_start_time_seconds", "gauge"},
      {"longlink_uptime_seconds", "gauge"},
      {"longlink_workers", "gauge"},
      {"longlink_client_connections", "gauge"},
      {"longlink_client_connections_max", "gauge"},
      {"longlink_client_connections_accepted_total", "counter"},
      {"longlink_client_connections_refused_total", "counter"},
      {"longlink_login_failures_total", "counter"},
      {"longlink_backend_up", "gauge"},
      {"longlink_backend_connects_total", "counter"},
      {"longlink_backend_connect_failures_total", "counter"},
      {"longlink_backend_wait_timeout_seconds", "gauge"},
      {"longlink_backend_max_connections", "gauge"},
      {"longlink_backend_connections", "gauge"},
      {"longlink_pool_clients", "gauge"},
      {"longlink_pool_pinned_clients", "gauge"},
      {"longlink_pool_server_connections", "gauge"},
      {"longlink_pool_server_connects_total", "counter"},
      {"longlink_pool_logins_total", "counter"},
      {"longlink_pool_commands_total", "counter"},
      {"longlink_pool_queries_total", "counter"},
      {"longlink_pool_transactions_total", "counter"},
      {"longlink_pool_errors_total", "counter"},
      {"longlink_pool_client_received_bytes_total", "counter"},
      {"longlink_pool_client_sent_bytes_total", "counter"},
      {"longlink_pool_releases_total", "counter"},
      {"longlink_pool_reattaches_total", "counter"},
      {"longlink_pool_state_replays_total", "counter"},
      {"longlink_pool_state_replay_resets_total", "counter"},
      {"longlink_pool_prepared_statements_asked_total", "counter"},
      {"longlink_pool_prepared_statements_sent_total", "counter"},
      {"longlink_pool_statement_cache_hits_total", "counter"},
      {"longlink_pool_statement_evictions_total", "counter"},
      {"longlink_pool_longest_wait_seconds", "gauge"},
      {"longlink_pool_command_duration_seconds", "histogram"},
      {"longlink_pool_checkout_wait_seconds", "histogram"},
  };
  return kFamilies;
}

Labels PoolOf(const proxy::PoolStatsSnapshot& pool) {
  return {{"user", pool.key.user}, {"pool", pool.key.ToString()}};
}

void ExpectEveryFamilyOnce(const ProxySnapshot& snapshot) {
  const std::string text = RenderPrometheus(snapshot);
  const Exposition e = ParseExposition(text);
  EXPECT_TRUE(e.errors.empty()) << ::testing::PrintToString(e.errors);
  std::map<std::string, std::string> got;
  for (const auto& family : e.families) {
    EXPECT_EQ(family.help_lines, 1) << family.name;
    EXPECT_EQ(family.type_lines, 1) << family.name;
    got[family.name] = family.type;
  }
  EXPECT_EQ(got, ExpectedFamilies());
}

TEST(MetricsTextTest, EveryFamilyHasOneHelpAndOneTypeAndParses) {
  ExpectEveryFamilyOnce(SampleSnapshot());
}

TEST(MetricsTextTest, FamiliesWithoutPoolsStillDeclared) {
  ProxySnapshot snapshot = SampleSnapshot();
  snapshot.pools.clear();
  ExpectEveryFamilyOnce(snapshot);
  const Exposition e = ParseExposition(RenderPrometheus(snapshot));
  for (const auto& sample : e.samples) {
    EXPECT_FALSE(sample.name.starts_with("longlink_pool_")) << sample.name;
  }
  EXPECT_EQ(e.Value("longlink_backend_connects_total"), 24);
}

TEST(MetricsTextTest, ProcessAndBackendValues) {
  const Exposition e = ParseExposition(RenderPrometheus(SampleSnapshot()));
  ASSERT_TRUE(e.errors.empty());
  EXPECT_EQ(e.Value("longlink_info", {{"version", "0.1.0"}}), 1);
  EXPECT_EQ(e.Value("longlink_start_time_seconds"), 1'700'000'000);
  EXPECT_EQ(e.Value("longlink_uptime_seconds"), 3600.5);
  EXPECT_EQ(e.Value("longlink_workers"), 2);
  EXPECT_EQ(e.Value("longlink_client_connections"), 20);
  EXPECT_EQ(e.Value("longlink_client_connections_max"), 10000);
  EXPECT_EQ(e.Value("longlink_client_connections_accepted_total"), 2000);
  EXPECT_EQ(e.Value("longlink_client_connections_refused_total"), 5);
  EXPECT_EQ(e.Value("longlink_login_failures_total"), 9);
  EXPECT_EQ(e.Value("longlink_backend_up"), 0);
  EXPECT_EQ(e.Value("longlink_backend_connect_failures_total"), 6);
  EXPECT_EQ(e.Value("longlink_backend_wait_timeout_seconds"), 28800);
  EXPECT_EQ(e.Value("longlink_backend_max_connections"), 100);
  const std::map<std::string, double> states = {
      {"opening", 2}, {"idle", 8}, {"checking", 0}, {"moving", 0}, {"active", 6}};
  EXPECT_EQ(e.Find("longlink_backend_connections").size(), states.size());
  for (const auto& [state, value] : states) {
    EXPECT_EQ(e.Value("longlink_backend_connections", {{"state", state}}), value) << state;
  }

  ProxySnapshot up = SampleSnapshot();
  up.backend.reachable = true;
  EXPECT_EQ(ParseExposition(RenderPrometheus(up)).Value("longlink_backend_up"), 1);
}

TEST(MetricsTextTest, PoolCountersAndGauges) {
  const ProxySnapshot snapshot = SampleSnapshot();
  const Exposition e = ParseExposition(RenderPrometheus(snapshot));
  ASSERT_TRUE(e.errors.empty());
  const Labels batch = PoolOf(snapshot.pools[1]);
  EXPECT_EQ(e.Value("longlink_pool_server_connects_total", batch), 12);
  EXPECT_EQ(e.Value("longlink_pool_logins_total", batch), 1000);
  EXPECT_EQ(e.Value("longlink_pool_commands_total", batch), 5000);
  EXPECT_EQ(e.Value("longlink_pool_queries_total", batch), 4000);
  EXPECT_EQ(e.Value("longlink_pool_transactions_total", batch), 3000);
  EXPECT_EQ(e.Value("longlink_pool_errors_total", batch), 7);
  EXPECT_EQ(e.Value("longlink_pool_client_received_bytes_total", batch), 123456);
  EXPECT_EQ(e.Value("longlink_pool_client_sent_bytes_total", batch), 654321);
  EXPECT_EQ(e.Value("longlink_pool_releases_total", batch), 140);
  EXPECT_EQ(e.Value("longlink_pool_reattaches_total", batch), 141);
  EXPECT_EQ(e.Value("longlink_pool_state_replays_total", batch), 20);
  EXPECT_EQ(e.Value("longlink_pool_state_replay_resets_total", batch), 3);
  EXPECT_EQ(e.Value("longlink_pool_prepared_statements_asked_total", batch), 40);
  EXPECT_EQ(e.Value("longlink_pool_prepared_statements_sent_total", batch), 8);
  EXPECT_EQ(e.Value("longlink_pool_statement_cache_hits_total", batch), 900);
  EXPECT_EQ(e.Value("longlink_pool_statement_evictions_total", batch), 1);
  EXPECT_EQ(e.Value("longlink_pool_longest_wait_seconds", batch), 0.25);
  Labels active = batch;
  active["state"] = "active";
  EXPECT_EQ(e.Value("longlink_pool_clients", active), 3);
  EXPECT_EQ(e.Value("longlink_pool_server_connections", active), 3);
  Labels idle = batch;
  idle["state"] = "idle";
  EXPECT_EQ(e.Value("longlink_pool_clients", idle), 5);  // 10 - 3 holding - 2 waiting.
  EXPECT_EQ(e.Value("longlink_pool_server_connections", idle), 4);
  Labels waiting = batch;
  waiting["state"] = "waiting";
  EXPECT_EQ(e.Value("longlink_pool_clients", waiting), 2);
  EXPECT_EQ(e.Find("longlink_pool_clients", batch).size(), 3u);
  EXPECT_EQ(e.Find("longlink_pool_server_connections", batch).size(), 5u);
}

TEST(MetricsTextTest, IdleClientsNeverBelowZero) {
  ProxySnapshot snapshot = SampleSnapshot();
  snapshot.pools[0].clients = 2;  // Counters read a moment apart may disagree.
  snapshot.pools[0].clients_holding = 2;
  snapshot.pools[0].clients_waiting = 1;
  const Exposition e = ParseExposition(RenderPrometheus(snapshot));
  Labels idle = PoolOf(snapshot.pools[0]);
  idle["state"] = "idle";
  EXPECT_EQ(e.Value("longlink_pool_clients", idle), 0);
}

TEST(MetricsTextTest, TwoPoolsGiveTwoLabelSetsInEveryPoolFamily) {
  const ProxySnapshot snapshot = SampleSnapshot();
  const Exposition e = ParseExposition(RenderPrometheus(snapshot));
  ASSERT_TRUE(e.errors.empty());
  std::map<std::string, std::set<std::string>> label_sets;  // Family -> "user|pool|mode".
  for (const auto& sample : e.samples) {
    if (!sample.family.starts_with("longlink_pool_")) continue;
    ASSERT_TRUE(sample.labels.contains("user") && sample.labels.contains("pool") &&
                sample.labels.contains("mode"))
        << sample.name;
    label_sets[sample.family].insert(sample.labels.at("user") + "|" + sample.labels.at("pool") +
                                     "|" + sample.labels.at("mode"));
  }
  const std::set<std::string> expected = {
      "app|" + snapshot.pools[0].key.ToString() + "|session",
      "batch|" + snapshot.pools[1].key.ToString() + "|transaction"};
  std::size_t pool_families = 0;
  for (const auto& [name, type] : ExpectedFamilies()) {
    if (!name.starts_with("longlink_pool_")) continue;
    ++pool_families;
    EXPECT_EQ(label_sets[name], expected) << name;
  }
  EXPECT_EQ(label_sets.size(), pool_families);
}

TEST(MetricsTextTest, EveryPinReasonPerPoolZerosIncluded) {
  const ProxySnapshot snapshot = SampleSnapshot();
  const Exposition e = ParseExposition(RenderPrometheus(snapshot));
  const Labels app = PoolOf(snapshot.pools[0]);
  EXPECT_EQ(e.Find("longlink_pool_pinned_clients", app).size(), proxy::kPinReasonCount - 1);
  for (std::size_t r = 1; r < proxy::kPinReasonCount; ++r) {
    const auto reason = static_cast<proxy::PinReason>(r);
    Labels labels = app;
    labels["reason"] = std::string(proxy::PinReasonName(reason));
    EXPECT_EQ(e.Value("longlink_pool_pinned_clients", labels), snapshot.pools[0].pinned[r])
        << labels["reason"];
  }
  Labels user_variable = app;
  user_variable["reason"] = "user_variable";
  EXPECT_EQ(e.Value("longlink_pool_pinned_clients", user_variable), 2);
}

TEST(MetricsTextTest, LabelValuesAreEscaped) {
  ProxySnapshot snapshot = SampleSnapshot();
  snapshot.process.version = "1.0 \"beta\"\\x\nnext";
  snapshot.pools = {SamplePool("we\"ird\\us\ner", false)};
  const std::string text = RenderPrometheus(snapshot);
  EXPECT_NE(text.find(R"(longlink_info{version="1.0 \"beta\"\\x\nnext"} 1)"), std::string::npos)
      << text.substr(0, 400);
  EXPECT_NE(text.find(R"(user="we\"ird\\us\ner")"), std::string::npos);
  const Exposition e = ParseExposition(text);
  EXPECT_TRUE(e.errors.empty()) << ::testing::PrintToString(e.errors);
  EXPECT_EQ(e.Value("longlink_info", {{"version", "1.0 \"beta\"\\x\nnext"}}), 1);
  EXPECT_EQ(e.Value("longlink_pool_logins_total", {{"user", "we\"ird\\us\ner"}}), 1000);
}

void ExpectHistogram(const Exposition& e, const std::string& name, const Labels& pool,
                     const LatencySnapshot& h) {
  const auto buckets = e.Find(name + "_bucket", pool);
  ASSERT_EQ(buckets.size(), kLatencyBuckets) << name;
  std::uint64_t cumulative = 0;
  double previous = -1;
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
    cumulative += h.counts[i];
    const std::string& le = buckets[i]->labels.at("le");
    if (i < kLatencyBounds.size()) {
      EXPECT_EQ(std::stod(le), kLatencyBounds[i]) << le;
    } else {
      EXPECT_EQ(le, "+Inf");
    }
    EXPECT_EQ(buckets[i]->value, static_cast<double>(cumulative)) << name << " le=" << le;
    EXPECT_GE(buckets[i]->value, previous) << name << " le=" << le;
    previous = buckets[i]->value;
  }
  EXPECT_EQ(e.Value(name + "_count", pool), buckets.back()->value);
  EXPECT_EQ(e.Value(name + "_count", pool), static_cast<double>(cumulative));
  EXPECT_DOUBLE_EQ(e.Value(name + "_sum", pool).value_or(-1), h.sum_seconds());
}

TEST(MetricsTextTest, HistogramsAreCumulativeWithInfEqualToCount) {
  const ProxySnapshot snapshot = SampleSnapshot();
  const Exposition e = ParseExposition(RenderPrometheus(snapshot));
  ASSERT_TRUE(e.errors.empty());
  const Labels app = PoolOf(snapshot.pools[0]);
  ExpectHistogram(e, "longlink_pool_command_duration_seconds", app,
                  snapshot.pools[0].command_latency);
  ExpectHistogram(e, "longlink_pool_checkout_wait_seconds", app, snapshot.pools[0].checkout_wait);
  // The sample's own figures: 1 + 2 + ... + 15 = 120 commands in 2.5 s; 901 checkouts, one
  // above the last bound, in 6.000123 s.
  EXPECT_EQ(e.Value("longlink_pool_command_duration_seconds_count", app), 120);
  EXPECT_EQ(e.Value("longlink_pool_command_duration_seconds_sum", app), 2.5);
  Labels le_5 = app;
  le_5["le"] = "5";
  EXPECT_EQ(e.Value("longlink_pool_checkout_wait_seconds_bucket", le_5), 900);
  EXPECT_EQ(e.Value("longlink_pool_checkout_wait_seconds_sum", app), 6.000123);
}

TEST(MetricsTextTest, IntegersArePrintedExactly) {
  ProxySnapshot snapshot = SampleSnapshot();
  snapshot.pools[0].queries = 18'446'744'073'709'551'615ULL;  // Not representable as a double.
  snapshot.process.client_connections = 9'007'199'254'740'993ULL;
  const std::string text = RenderPrometheus(snapshot);
  EXPECT_NE(text.find("longlink_client_connections_accepted_total 9007199254740993\n"),
            std::string::npos);
  const Exposition e = ParseExposition(text);
  const auto queries = e.Find("longlink_pool_queries_total", {{"user", "app"}});
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_EQ(queries[0]->value_text, "18446744073709551615");
  EXPECT_EQ(text.find("e+"), std::string::npos) << "no exponent notation for these figures";
}

}  // namespace
}  // namespace longlink::admin
