#include "common/latency_histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace longlink {
namespace {

TEST(LatencyHistogramTest, BucketsByUpperBound) {
  struct Case {
    std::uint64_t us;
    std::size_t bucket;
  };
  const Case cases[] = {
      {0, 0},    {100, 0},  {101, 1},      {250, 1},      {251, 2},
      {1000, 3}, {1001, 4}, {5000000, 13}, {5000001, 14}, {~0ULL, 14},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(LatencyHistogram::BucketOf(c.us), c.bucket) << c.us << " us";
  }
}

TEST(LatencyHistogramTest, SnapshotSumsCountsAndMax) {
  LatencyHistogram histogram;
  histogram.ObserveMicros(50);
  histogram.ObserveMicros(2000);
  histogram.Observe(std::chrono::milliseconds(30));
  const LatencySnapshot snapshot = histogram.Snapshot();
  EXPECT_EQ(snapshot.count, 3U);
  EXPECT_EQ(snapshot.sum_us, 50U + 2000U + 30000U);
  EXPECT_EQ(snapshot.max_us, 30000U);
  EXPECT_EQ(snapshot.counts[0], 1U);
  EXPECT_EQ(snapshot.counts[LatencyHistogram::BucketOf(2000)], 1U);
  EXPECT_EQ(snapshot.counts[LatencyHistogram::BucketOf(30000)], 1U);
  EXPECT_DOUBLE_EQ(snapshot.sum_seconds(), 0.03205);
}

TEST(LatencyHistogramTest, SnapshotsAddUp) {
  LatencyHistogram a;
  LatencyHistogram b;
  a.ObserveMicros(10);
  b.ObserveMicros(7000000);
  LatencySnapshot total = a.Snapshot();
  total += b.Snapshot();
  EXPECT_EQ(total.count, 2U);
  EXPECT_EQ(total.max_us, 7000000U);
  EXPECT_EQ(total.counts[kLatencyBuckets - 1], 1U);
}

TEST(LatencyHistogramTest, ThreadsLoseNothing) {
  LatencyHistogram histogram;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&histogram, t] {
      for (int i = 0; i < 10000; ++i) histogram.ObserveMicros(static_cast<std::uint64_t>(t * 100));
    });
  }
  for (auto& thread : threads) thread.join();
  const LatencySnapshot snapshot = histogram.Snapshot();
  EXPECT_EQ(snapshot.count, 40000U);
  EXPECT_EQ(snapshot.sum_us, 10000U * (0 + 100 + 200 + 300));
  EXPECT_EQ(snapshot.max_us, 300U);
}

}  // namespace
}  // namespace longlink
