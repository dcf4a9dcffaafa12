#include "diag/analysis.h"

#include <gtest/gtest.h>

#include "report_fixture.h"

namespace longlink::diag {
namespace {

using namespace testing;

const Finding* FindCode(const Report& r, std::string_view code) {
  for (const auto& f : r.findings) {
    if (f.code == code) return &f;
  }
  return nullptr;
}

TEST(AnalysisTest, MysqlChurnIsCriticalWithAVerdictAndAProxyConfig) {
  SocketOwners owners;
  owners.processes = {{.pid = 812, .uid = 33, .command = "php-fpm", .cmdline = "php-fpm: pool"}};
  owners.owner_of = {{300, 0}};
  Report r = BuildReport(MysqlChurn(), DefaultSettings(), {}, owners);

  ASSERT_FALSE(r.findings.empty());
  const Finding& top = r.findings.front();
  EXPECT_EQ(top.code, "short_lived_connections");
  EXPECT_EQ(top.severity, Severity::kCritical);
  EXPECT_EQ(top.subject, "10.0.0.5:3306");
  EXPECT_EQ(top.title,
            "30,412 TIME_WAIT to 10.0.0.5:3306 (mysql), about 507 new connections/s, closed by "
            "this host: short-lived connections");
  EXPECT_NE(top.advice.find("longlink proxy"), std::string::npos);
  EXPECT_NE(top.advice.find("pid 812 (php-fpm)"), std::string::npos);
  EXPECT_EQ(r.verdict.rfind(top.title + ". Kernel settings would only hide this; pool the "
                                        "connections.",
                            0),
            0u)
      << r.verdict;

  ASSERT_TRUE(r.proxy_config.has_value());
  for (const char* key : {"[listen]", "unix_socket = ", "tcp = ", "[backend]",
                          "address = \"10.0.0.5:3306\"", "[pool]", "max_connections = ",
                          "min_idle = ", "[[users]]", "name = ", "password_hash = "}) {
    EXPECT_NE(r.proxy_config->find(key), std::string::npos) << key;
  }
}

TEST(AnalysisTest, HealthyHostSaysSo) {
  std::vector<SocketRecord> s;
  s.push_back(Listen("0.0.0.0", 22));
  s.push_back(Sock(TcpState::kEstablished, Ep("10.0.0.9", 22), Ep("10.0.0.1", 51000), 5));
  Report r = BuildReport(s, DefaultSettings());
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].code, "healthy");
  EXPECT_EQ(r.verdict, "Healthy: no connection churn, CLOSE_WAIT leak or port shortage.");
  EXPECT_FALSE(r.proxy_config.has_value());
}

TEST(AnalysisTest, SeverityThresholdsForChurn) {
  struct Row {
    int count;
    std::optional<Severity> want;
  };
  // Spread over 60 s, so the rate is count/60.
  const Row rows[] = {{10, std::nullopt},
                      {60, Severity::kInfo},
                      {400, Severity::kWarning},     // 6.7/s
                      {6000, Severity::kCritical}};  // 100/s
  for (const auto& row : rows) {
    std::vector<SocketRecord> s;
    AddTimeWait(&s, "10.0.0.9", 33000, Ep("10.0.0.5", 6379), row.count, [&](int i) {
      return static_cast<std::uint32_t>(60000 - static_cast<long>(i) * 60000 / row.count);
    });
    Report r = BuildReport(s, DefaultSettings());
    const Finding* f = FindCode(r, "short_lived_connections");
    ASSERT_EQ(f != nullptr, row.want.has_value()) << row.count;
    if (f) {
      EXPECT_EQ(f->severity, *row.want) << row.count;
    }
    EXPECT_FALSE(r.proxy_config.has_value());  // not MySQL
  }
}

TEST(AnalysisTest, ServerClosingFirstIsNamedAsSuch) {
  std::vector<SocketRecord> s;
  s.push_back(Listen("0.0.0.0", 80));
  for (int i = 0; i < 400; ++i) {
    s.push_back(Sock(TcpState::kTimeWait, Ep("10.0.0.9", 80),
                     Ep("10.0.1.1", static_cast<std::uint16_t>(30000 + i)), 0,
                     SocketTimer::kTimeWait, 30000));
  }
  Report r = BuildReport(s, DefaultSettings());
  const Finding* f = FindCode(r, "server_closes_first");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->subject, "10.0.0.9:80");
  EXPECT_NE(f->title.find("this host, as server, closes connections first"), std::string::npos);
  EXPECT_EQ(FindCode(r, "short_lived_connections"), nullptr);
  EXPECT_EQ(FindCode(r, "port_exhaustion"), nullptr);  // server side uses no ephemeral ports
}

TEST(AnalysisTest, PortExhaustionNamesSourceAndDestination) {
  KernelSettings settings = DefaultSettings();
  settings.port_range.low = 20000;
  settings.port_range.high = 21999;
  std::vector<SocketRecord> s;
  AddTimeWait(&s, "127.0.4.1", 20000, Ep("127.0.0.1", 11211), 1900, [](int) { return 1000u; });
  Report r = BuildReport(s, settings);
  const Finding* f = FindCode(r, "port_exhaustion");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kCritical);
  EXPECT_EQ(f->subject, "127.0.0.1:11211");
  EXPECT_NE(f->title.find("1,900 of 2,000"), std::string::npos) << f->title;
  EXPECT_NE(f->title.find("from 127.0.4.1"), std::string::npos);
  EXPECT_NE(f->advice.find("IP_BIND_ADDRESS_NO_PORT"), std::string::npos);
  // The churn finding for the same destination escalates to critical through the ports.
  const Finding* churn = FindCode(r, "short_lived_connections");
  ASSERT_NE(churn, nullptr);
  EXPECT_EQ(churn->severity, Severity::kCritical);
  bool port_range_flagged = false;
  for (const auto& a : r.sysctls) {
    if (a.name == "net.ipv4.ip_local_port_range")
      port_range_flagged = a.advice == Advice::kConsider;
  }
  EXPECT_TRUE(port_range_flagged);
}

TEST(AnalysisTest, CloseWaitLeakNamesProcessAndPeer) {
  std::vector<SocketRecord> s;
  for (std::uint64_t i = 0; i < 50; ++i) {
    s.push_back(Sock(TcpState::kCloseWait, Ep("10.0.0.9", static_cast<std::uint16_t>(40000 + i)),
                     Ep("10.0.0.5", 3306), 1000 + i));
  }
  SocketOwners owners;
  owners.processes = {
      {.pid = 4242, .uid = 33, .command = "php-fpm", .cmdline = "php-fpm: pool www"}};
  for (std::uint64_t i = 0; i < 50; ++i) owners.owner_of[1000 + i] = 0;
  Report r = BuildReport(s, DefaultSettings(), {}, owners);
  const Finding* f = FindCode(r, "close_wait_leak");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->subject, "pid 4242");
  EXPECT_NE(
      f->title.find("pid 4242 (php-fpm) holds 50 CLOSE_WAIT sockets to 10.0.0.5:3306 (mysql)"),
      std::string::npos)
      << f->title;
  EXPECT_NE(f->advice.find("php-fpm: pool www"), std::string::npos);
}

TEST(AnalysisTest, KernelCounterAndSettingFindings) {
  KernelSettings settings = DefaultSettings();
  SetSysctl(&settings, "net.ipv4.tcp_tw_recycle", "1");
  SetSysctl(&settings, "net.ipv4.tcp_timestamps", "0");
  KernelCounters counters;
  counters.values = {{"TcpExtTCPTimeWaitOverflow", 4000}, {"TcpExtTWRecycled", 45459}};
  Report r = BuildReport({}, settings, counters);
  for (const char* code :
       {"tw_recycle_set", "timestamps_off", "tw_overflow", "tw_reuse_hides_churn"}) {
    EXPECT_NE(FindCode(r, code), nullptr) << code;
  }
  EXPECT_EQ(r.findings.front().code, "tw_recycle_set");  // critical first
  EXPECT_EQ(FindCode(r, "healthy"), nullptr);

  auto audit = [&](const char* name) {
    for (const auto& a : r.sysctls) {
      if (a.name == name) return a;
    }
    return SysctlAudit{};
  };
  EXPECT_EQ(audit("net.ipv4.tcp_tw_recycle").advice, Advice::kChange);
  EXPECT_EQ(audit("net.ipv4.tcp_timestamps").advice, Advice::kChange);
  EXPECT_EQ(audit("net.ipv4.tcp_max_tw_buckets").advice, Advice::kConsider);
  EXPECT_NE(audit("net.ipv4.tcp_fin_timeout").meaning.find("does not change TIME_WAIT"),
            std::string::npos);
}

TEST(AnalysisTest, AbsentTwRecycleIsExplainedNotFlagged) {
  Report r = BuildReport({}, DefaultSettings());
  bool seen = false;
  for (const auto& a : r.sysctls) {
    if (a.name != "net.ipv4.tcp_tw_recycle") continue;
    seen = true;
    EXPECT_FALSE(a.value.has_value());
    EXPECT_NE(a.meaning.find("removed in Linux 4.12"), std::string::npos);
    EXPECT_NE(a.note.find("NAT"), std::string::npos);
    EXPECT_EQ(a.advice, Advice::kLeave);
  }
  EXPECT_TRUE(seen);
}

TEST(AnalysisTest, PartialDataIsAFinding) {
  Report r = BuildReport({}, DefaultSettings(), {}, {}, {"3 sockets could not be attributed"});
  const Finding* f = FindCode(r, "partial_data");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->title.find("3 sockets could not be attributed"), std::string::npos);
}

TEST(AnalysisTest, WithThousands) {
  EXPECT_EQ(WithThousands(0), "0");
  EXPECT_EQ(WithThousands(999), "999");
  EXPECT_EQ(WithThousands(1000), "1,000");
  EXPECT_EQ(WithThousands(30412), "30,412");
  EXPECT_EQ(WithThousands(1234567), "1,234,567");
}

}  // namespace
}  // namespace longlink::diag
