#include "common/recent_count.h"

#include <gtest/gtest.h>

namespace longlink {
namespace {

using std::chrono::seconds;

TEST(RecentCountTest, CountsTheLastSixtySeconds) {
  RecentCount recent;
  const auto start = RecentCount::Clock::time_point(seconds(1000));
  recent.Add(1, start);
  recent.Add(2, start + seconds(30));
  recent.Add(4, start + seconds(59));
  EXPECT_EQ(recent.LastMinute(start + seconds(59)), 7U);
  // At 60 s the first second has left the window.
  EXPECT_EQ(recent.LastMinute(start + seconds(60)), 6U);
  EXPECT_EQ(recent.LastMinute(start + seconds(89)), 6U);
  EXPECT_EQ(recent.LastMinute(start + seconds(90)), 4U);
  EXPECT_EQ(recent.LastMinute(start + seconds(200)), 0U);
}

TEST(RecentCountTest, AReusedSlotStartsAgain) {
  RecentCount recent;
  const auto start = RecentCount::Clock::time_point(seconds(1000));
  recent.Add(5, start);
  recent.Add(1, start + seconds(60));  // The same slot, a minute later.
  EXPECT_EQ(recent.LastMinute(start + seconds(60)), 1U);
}

TEST(RecentCountTest, EventsInOneSecondAddUp) {
  RecentCount recent;
  const auto now = RecentCount::Clock::time_point(seconds(7));
  for (int i = 0; i < 10; ++i) recent.Add(1, now);
  EXPECT_EQ(recent.LastMinute(now), 10U);
}

}  // namespace
}  // namespace longlink
