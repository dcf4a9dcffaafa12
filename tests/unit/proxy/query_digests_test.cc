#include "proxy/query_digests.h"

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace longlink::proxy {
namespace {

using Clock = std::chrono::system_clock;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(seconds(1'700'000'000));

struct Totals {
  std::uint64_t count = 0;
  std::uint64_t errors = 0;
  std::uint64_t rows = 0;
  std::uint64_t total_us = 0;
};

Totals Sum(const std::vector<DigestRow>& rows) {
  Totals totals;
  for (const auto& row : rows) {
    totals.count += row.count;
    totals.errors += row.errors;
    totals.rows += row.rows;
    totals.total_us += row.total_us;
  }
  return totals;
}

const DigestRow* Find(const std::vector<DigestRow>& rows, std::string_view shape) {
  for (const auto& row : rows) {
    if (row.shape == shape) return &row;
  }
  return nullptr;
}

// A statement of its own shape per `i` (a table of its own).
std::string Distinct(std::size_t i) {
  return "SELECT * FROM t" + std::to_string(i) + " WHERE id = 1";
}
std::string DistinctShape(std::size_t i) {
  return "SELECT * FROM t" + std::to_string(i) + " WHERE id = ?";
}

TEST(QueryDigestsTest, DisabledRecordsNothing) {
  QueryDigests digests(0);
  EXPECT_FALSE(digests.enabled());
  digests.Record("SELECT 1", false, 10, 1, false);
  digests.Record("SELECT 1", false, 10, 1, false, kT0);
  EXPECT_EQ(digests.size(), 0U);
  EXPECT_TRUE(digests.Snapshot().empty());
  digests.Clear();
  EXPECT_TRUE(digests.Snapshot().empty());
}

TEST(QueryDigestsTest, OneShapeSumsItsExecutions) {
  QueryDigests digests(10);
  EXPECT_TRUE(digests.enabled());
  struct Execution {
    const char* sql;
    std::uint64_t latency_us;
    std::uint64_t rows;
    bool error;
  };
  const Execution executions[] = {
      {"SELECT * FROM t WHERE id = 1", 30, 1, false},
      {"select * from t where id = 22", 10, 0, true},
      {"SELECT * FROM t WHERE id = 'x';", 50, 3, false},
  };
  int second = 0;
  for (const auto& e : executions) {
    digests.Record(e.sql, false, e.latency_us, e.rows, e.error, kT0 + seconds(second++));
  }
  const DigestRow expected{.shape = "SELECT * FROM t WHERE id = ?",
                           .count = 3,
                           .errors = 1,
                           .rows = 4,
                           .total_us = 90,
                           .min_us = 10,
                           .max_us = 50,
                           .first_seen = kT0,
                           .last_seen = kT0 + seconds(2)};
  EXPECT_EQ(digests.Snapshot(), std::vector<DigestRow>{expected});
  EXPECT_EQ(digests.size(), 1U);
}

TEST(QueryDigestsTest, SnapshotByTotalLatency) {
  QueryDigests digests(10);
  digests.Record("SELECT a FROM t", false, 5, 0, false, kT0);
  digests.Record("SELECT b FROM t", false, 100, 0, false, kT0);
  digests.Record("SELECT c FROM t", false, 40, 0, false, kT0);
  digests.Record("SELECT c FROM t", false, 40, 0, false, kT0);
  digests.Record("SELECT d FROM t", false, 5, 0, false, kT0);
  digests.Record("SELECT d FROM t", false, 0, 0, false, kT0);
  std::vector<std::string> shapes;
  for (const auto& row : digests.Snapshot()) shapes.push_back(row.shape);
  // Equal totals: more executions first.
  EXPECT_EQ(shapes, (std::vector<std::string>{"SELECT b FROM t", "SELECT c FROM t",
                                              "SELECT d FROM t", "SELECT a FROM t"}));
}

TEST(QueryDigestsTest, CutStatements) {
  QueryDigests digests(10);
  digests.Record("SELECT * FROM t WHERE a IN (1, 2, 3", true, 1, 0, false, kT0);
  const std::string huge = "SELECT " + std::string(5000, 'x') + " FROM t";
  digests.Record(huge, false, 1, 0, false, kT0);
  const auto rows = digests.Snapshot();
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_NE(Find(rows, "SELECT * FROM t WHERE a IN (...)..."), nullptr);
  // The long name is cut at kMaxShapeBytes: dropped, as a word that may be cut.
  EXPECT_NE(Find(rows, "SELECT..."), nullptr);
  for (const auto& row : rows) EXPECT_LE(row.shape.size(), QueryDigests::kMaxShapeBytes + 3);
}

// Cap 10 (one shard): a new shape evicts the one with the fewest executions into <other>.
TEST(QueryDigestsTest, EvictsTheFewestExecutionsIntoOther) {
  QueryDigests digests(10);
  std::uint64_t records = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    for (std::size_t n = 0; n <= i; ++n, ++records) {
      digests.Record(Distinct(i), false, 10 + i, 2, n == 0, kT0 + seconds(i));
    }
  }
  EXPECT_EQ(digests.size(), 10U);
  EXPECT_EQ(Find(digests.Snapshot(), QueryDigests::kOtherShape), nullptr);

  digests.Record(Distinct(10), false, 7, 1, false, kT0 + seconds(20));
  ++records;
  const auto rows = digests.Snapshot();
  EXPECT_EQ(digests.size(), 10U);
  EXPECT_EQ(rows.size(), 11U);
  EXPECT_EQ(Find(rows, DistinctShape(0)), nullptr);  // 1 execution: evicted.
  EXPECT_NE(Find(rows, DistinctShape(1)), nullptr);
  EXPECT_NE(Find(rows, DistinctShape(10)), nullptr);
  const DigestRow* other = Find(rows, QueryDigests::kOtherShape);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(*other, (DigestRow{.shape = "<other>",
                               .count = 1,
                               .errors = 1,
                               .rows = 2,
                               .total_us = 10,
                               .min_us = 10,
                               .max_us = 10,
                               .first_seen = kT0,
                               .last_seen = kT0}));
  // Sums over all rows are those of every execution.
  const Totals totals = Sum(rows);
  EXPECT_EQ(totals.count, records);
  EXPECT_EQ(totals.errors, 10U);
  EXPECT_EQ(totals.rows, 2 * (records - 1) + 1);
}

// Of equal counts, the least recently seen goes first.
TEST(QueryDigestsTest, EvictsTheLeastRecentOfEqualCounts) {
  QueryDigests digests(3);
  digests.Record(Distinct(0), false, 1, 0, false, kT0 + seconds(5));
  digests.Record(Distinct(1), false, 1, 0, false, kT0 + seconds(1));
  digests.Record(Distinct(2), false, 1, 0, false, kT0 + seconds(9));
  digests.Record(Distinct(3), false, 1, 0, false, kT0 + seconds(10));
  const auto rows = digests.Snapshot();
  EXPECT_EQ(Find(rows, DistinctShape(1)), nullptr);
  EXPECT_NE(Find(rows, DistinctShape(0)), nullptr);
  EXPECT_NE(Find(rows, DistinctShape(2)), nullptr);
  EXPECT_NE(Find(rows, DistinctShape(3)), nullptr);
}

// A tenth of the shapes goes at once, so that eviction is paid once per tenth of new shapes;
// <other> folds successive evictions together.
TEST(QueryDigestsTest, EvictsATenthAtOnce) {
  QueryDigests digests(100);
  for (std::size_t i = 0; i < 100; ++i) digests.Record(Distinct(i), false, 1, 0, false, kT0);
  EXPECT_EQ(digests.size(), 100U);
  digests.Record(Distinct(100), false, 1, 0, false, kT0);
  EXPECT_EQ(digests.size(), 91U);
  for (std::size_t i = 101; i < 110; ++i) digests.Record(Distinct(i), false, 1, 0, false, kT0);
  EXPECT_EQ(digests.size(), 100U);
  digests.Record(Distinct(110), false, 1, 0, false, kT0);
  EXPECT_EQ(digests.size(), 91U);
  const auto rows = digests.Snapshot();
  const DigestRow* other = Find(rows, QueryDigests::kOtherShape);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->count, 20U);
}

struct CapRow {
  std::size_t cap;
  std::size_t shapes;
};

// Whatever the cap (one shard or many), the shapes kept never exceed it and the sums stay
// exact.
TEST(QueryDigestsTest, CapRespected) {
  const CapRow rows[] = {{1, 50}, {7, 500}, {127, 2000}, {128, 2000}, {1000, 5000}, {5000, 3000}};
  for (const auto& row : rows) {
    QueryDigests digests(row.cap);
    std::uint64_t records = 0;
    std::uint64_t latency = 0;
    for (std::size_t i = 0; i < row.shapes; ++i) {
      // Some shapes run more often than others.
      for (std::size_t n = 0; n < 1 + i % 3; ++n) {
        digests.Record(Distinct(i), false, i, 1, false, kT0);
        latency += i;
        ++records;
      }
      ASSERT_LE(digests.size(), row.cap) << row.cap;
    }
    const auto snapshot = digests.Snapshot();
    EXPECT_EQ(snapshot.size(), digests.size() + (row.shapes > row.cap ? 1 : 0)) << row.cap;
    const Totals totals = Sum(snapshot);
    EXPECT_EQ(totals.count, records) << row.cap;
    EXPECT_EQ(totals.rows, records) << row.cap;
    EXPECT_EQ(totals.total_us, latency) << row.cap;
    // Eviction may start before the cap (a shard is full), but not long before.
    if (row.shapes > row.cap) {
      EXPECT_GE(digests.size(), row.cap * 8 / 10) << row.cap;
    }
  }
}

TEST(QueryDigestsTest, Clear) {
  QueryDigests digests(2);
  for (std::size_t i = 0; i < 5; ++i) digests.Record(Distinct(i), false, 1, 0, false, kT0);
  ASSERT_NE(Find(digests.Snapshot(), QueryDigests::kOtherShape), nullptr);
  digests.Clear();
  EXPECT_EQ(digests.size(), 0U);
  EXPECT_TRUE(digests.Snapshot().empty());
  digests.Record(Distinct(9), false, 4, 0, false, kT0);
  const auto rows = digests.Snapshot();
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].shape, DistinctShape(9));
  EXPECT_EQ(rows[0].count, 1U);
}

// Four threads record at once, into shapes they share and shapes of their own (evicting):
// nothing is lost.
TEST(QueryDigestsTest, Concurrent) {
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kRecords = 20000;
  QueryDigests digests(200);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&digests, t] {
      for (std::size_t i = 0; i < kRecords; ++i) {
        const std::string sql = i % 2 == 0 ? Distinct(i % 50) : Distinct(1000 * (t + 1) + i % 300);
        digests.Record(sql, false, i % 100, 1, i % 7 == 0);
        if (i % 5000 == 0) (void)digests.Snapshot();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto rows = digests.Snapshot();
  EXPECT_LE(digests.size(), 200U);
  const Totals totals = Sum(rows);
  std::uint64_t latency = 0;
  std::uint64_t errors = 0;
  for (std::size_t i = 0; i < kRecords; ++i) {
    latency += i % 100;
    errors += i % 7 == 0 ? 1U : 0U;
  }
  EXPECT_EQ(totals.count, kThreads * kRecords);
  EXPECT_EQ(totals.rows, kThreads * kRecords);
  EXPECT_EQ(totals.errors, kThreads * errors);
  EXPECT_EQ(totals.total_us, kThreads * latency);
}

// Not a benchmark: prints the cost of Record for a typical SELECT of about 100 bytes whose
// shape is already in the table (the data path's common case).
TEST(QueryDigestsCostTest, RecordOfAKnownShape) {
  QueryDigests digests(1000);
  constexpr int kRecords = 200000;
  std::vector<std::string> statements;
  for (int i = 0; i < 64; ++i) {
    statements.push_back("SELECT id, name, email, created_at FROM users WHERE account_id = " +
                         std::to_string(1000 + i) + " AND status = 'active' LIMIT 50");
  }
  // CPU time of this thread: other processes on the machine do not count.
  timespec start{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  for (int i = 0; i < kRecords; ++i) {
    digests.Record(statements[static_cast<std::size_t>(i) % statements.size()], false, 100, 1,
                   false);
  }
  timespec end{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
  const double ns = (static_cast<double>(end.tv_sec - start.tv_sec) * 1e9 +
                     static_cast<double>(end.tv_nsec - start.tv_nsec)) /
                    kRecords;
  std::printf("Record of a %zu-byte SELECT: %.0f ns\n", statements[0].size(), ns);
  const auto rows = digests.Snapshot();
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].count, static_cast<std::uint64_t>(kRecords));
}

}  // namespace
}  // namespace longlink::proxy
