// LogRateLimit::Admit with explicit time points.
#include "common/log_rate_limit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace longlink {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A time far from the clock's epoch, so that no row depends on a zero time point.
const LogRateLimit::Clock::time_point kStart =
    LogRateLimit::Clock::time_point() + std::chrono::hours(100);

// One line offered at kStart + `at`, and what Admit says about it.
struct AdmitRow {
  milliseconds at;
  bool write;
  std::string suffix;
};

void ExpectDecisions(LogRateLimit& limit, const std::vector<AdmitRow>& rows) {
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const AdmitRow& row = rows[i];
    const LogRateLimit::Decision decision = limit.Admit(kStart + row.at);
    EXPECT_EQ(decision.write, row.write) << "line " << i << " at " << row.at.count() << " ms";
    EXPECT_EQ(decision.suffix, row.suffix) << "line " << i << " at " << row.at.count() << " ms";
  }
}

TEST(LogRateLimit, BurstPassesTheRestIsCountedInTheNextLineWritten) {
  LogRateLimit limit(3, seconds(10));
  ExpectDecisions(limit,
                  {
                      // The window starts with the first line: three pass.
                      {milliseconds(0), true, ""},
                      {milliseconds(1000), true, ""},
                      {milliseconds(2000), true, ""},
                      // The rest of the window is suppressed, without a suffix.
                      {milliseconds(3000), false, ""},
                      {milliseconds(4000), false, ""},
                      {milliseconds(9999), false, ""},
                      // A new window: the first line says what was left out.
                      {milliseconds(10000), true, " (3 similar lines not logged in the last 8 s)"},
                      // The count was reset.
                      {milliseconds(10001), true, ""},
                      {milliseconds(10002), true, ""},
                      // One suppressed: singular.
                      {milliseconds(12000), false, ""},
                      {milliseconds(25000), true, " (1 similar line not logged in the last 14 s)"},
                      {milliseconds(25001), true, ""},
                  });
}

TEST(LogRateLimit, AWindowStartsAtTheFirstLineAfterAQuietPeriod) {
  LogRateLimit limit(2, seconds(10));
  ExpectDecisions(limit,
                  {
                      {milliseconds(0), true, ""},
                      // Long after the window: a fresh one begins at 60 s.
                      {milliseconds(60000), true, ""},
                      {milliseconds(60001), true, ""},
                      {milliseconds(60002), false, ""},
                      // 69.999 s is still in the window that began at 60 s.
                      {milliseconds(69999), false, ""},
                      {milliseconds(70000), true, " (2 similar lines not logged in the last 10 s)"},
                  });
}

TEST(LogRateLimit, BurstOfOne) {
  LogRateLimit limit(1, seconds(1));
  ExpectDecisions(limit,
                  {
                      {milliseconds(0), true, ""},
                      {milliseconds(1), false, ""},
                      {milliseconds(500), false, ""},
                      {milliseconds(999), false, ""},
                      {milliseconds(1000), true, " (3 similar lines not logged in the last 1 s)"},
                      {milliseconds(1500), false, ""},
                      {milliseconds(2000), true, " (1 similar line not logged in the last 1 s)"},
                  });
}

TEST(LogRateLimit, DefaultsAreTenLinesInTenSeconds) {
  LogRateLimit limit;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(limit.Admit(kStart + milliseconds(i)).write) << i;
  }
  EXPECT_FALSE(limit.Admit(kStart + milliseconds(10)).write);
  EXPECT_FALSE(limit.Admit(kStart + milliseconds(9999)).write);
  const LogRateLimit::Decision next = limit.Admit(kStart + seconds(10));
  EXPECT_TRUE(next.write);
  EXPECT_EQ(next.suffix, " (2 similar lines not logged in the last 10 s)");
}

}  // namespace
}  // namespace longlink
