// ConnectionBudget: backend connections (counted by a ConnectionRegistry) per pool, per user and
// in all; and CanMoveTo.
#include "pool/connection_budget.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "pool/connection_registry.h"
#include "pool/pool_key.h"
#include "protocol/constants.h"

namespace longlink::pool {
namespace {

namespace cap = protocol::capability;
using Limit = ConnectionBudget::Limit;

constexpr protocol::Capabilities kCapsA = cap::kLongFlag | cap::kDeprecateEof;
constexpr protocol::Capabilities kCapsB = kCapsA | cap::kMultiStatements;

// Four pools: app in two collations and with other flags, and another user.
const PoolKey kApp45{.user = "app", .capabilities = kCapsA, .collation = 45};
const PoolKey kApp33{.user = "app", .capabilities = kCapsA, .collation = 33};
const PoolKey kAppFlags45{.user = "app", .capabilities = kCapsB, .collation = 45};
const PoolKey kCron45{.user = "cron", .capabilities = kCapsA, .collation = 45};
const PoolKey kCron33{.user = "cron", .capabilities = kCapsA, .collation = 33};

enum class Op { kCheck, kAdd, kRemove };

// One step: for kCheck, Check(key) must be `check`; kAdd (a connection of `key` registered)
// requires Check(key) == kNone first; kRemove closes one. Afterwards the counts of `key`'s
// pool, its user and the total.
struct Step {
  const char* name;
  Op op;
  const PoolKey* key;
  Limit check;
  std::uint32_t pool;
  std::uint32_t user;
  std::uint32_t total;
};

TEST(ConnectionBudget, ChecksPoolThenUserThenTotal) {
  const ConnectionBudget budget({.per_pool = 2, .per_user = 3, .total = 4});
  ConnectionRegistry registry;
  std::map<const PoolKey*, std::vector<ConnectionId>> open;
  const std::vector<Step> steps = {
      {"empty", Op::kCheck, &kApp45, Limit::kNone, 0, 0, 0},
      {"first app/45", Op::kAdd, &kApp45, Limit::kNone, 1, 1, 1},
      {"second app/45", Op::kAdd, &kApp45, Limit::kNone, 2, 2, 2},
      {"app/45 is at the pool limit", Op::kCheck, &kApp45, Limit::kPool, 2, 2, 2},
      {"app/33 is another pool", Op::kCheck, &kApp33, Limit::kNone, 0, 2, 2},
      {"first app/33", Op::kAdd, &kApp33, Limit::kNone, 1, 3, 3},
      {"app with other flags: user limit across pools", Op::kCheck, &kAppFlags45, Limit::kUser, 0,
       3, 3},
      {"app/33 below its pool limit, at the user limit", Op::kCheck, &kApp33, Limit::kUser, 1, 3,
       3},
      {"app/45: the pool limit is named first", Op::kCheck, &kApp45, Limit::kPool, 2, 3, 3},
      {"another user is not limited by app's", Op::kCheck, &kCron45, Limit::kNone, 0, 0, 3},
      {"first cron/45", Op::kAdd, &kCron45, Limit::kNone, 1, 1, 4},
      {"cron/33: total limit across users", Op::kCheck, &kCron33, Limit::kTotal, 0, 1, 4},
      {"app/33: the user limit is named before the total", Op::kCheck, &kApp33, Limit::kUser, 1, 3,
       4},
      {"close cron/45", Op::kRemove, &kCron45, Limit::kNone, 0, 0, 3},
      {"cron/33 fits again", Op::kCheck, &kCron33, Limit::kNone, 0, 0, 3},
      {"close one app/45", Op::kRemove, &kApp45, Limit::kNone, 1, 2, 2},
      {"app with other flags fits again", Op::kCheck, &kAppFlags45, Limit::kNone, 0, 2, 2},
      {"app/45 fits again", Op::kCheck, &kApp45, Limit::kNone, 1, 2, 2},
      {"app with other flags", Op::kAdd, &kAppFlags45, Limit::kNone, 1, 3, 3},
      {"close app/33", Op::kRemove, &kApp33, Limit::kNone, 0, 2, 2},
      {"close app/45", Op::kRemove, &kApp45, Limit::kNone, 0, 1, 1},
      {"close app with other flags", Op::kRemove, &kAppFlags45, Limit::kNone, 0, 0, 0},
      {"empty again", Op::kCheck, &kApp45, Limit::kNone, 0, 0, 0},
  };
  for (const Step& step : steps) {
    switch (step.op) {
      case Op::kCheck:
        EXPECT_EQ(budget.Check(registry.CountsFor(*step.key)), step.check) << step.name;
        break;
      case Op::kAdd:
        ASSERT_EQ(budget.Check(registry.CountsFor(*step.key)), Limit::kNone) << step.name;
        open[step.key].push_back(registry.Open(*step.key, /*session=*/0));
        break;
      case Op::kRemove:
        ASSERT_FALSE(open[step.key].empty()) << step.name;
        EXPECT_TRUE(registry.Close(open[step.key].back())) << step.name;
        open[step.key].pop_back();
        break;
    }
    const ConnectionCounts counts = registry.CountsFor(*step.key);
    EXPECT_EQ(counts.pool, step.pool) << step.name;
    EXPECT_EQ(counts.user, step.user) << step.name;
    EXPECT_EQ(counts.total, step.total) << step.name;
  }
}

TEST(ConnectionBudget, KeepsItsLimits) {
  const ConnectionBudget budget({.per_pool = 4, .per_user = 8, .total = 100});
  EXPECT_EQ(budget.limits().per_pool, 4U);
  EXPECT_EQ(budget.limits().per_user, 8U);
  EXPECT_EQ(budget.limits().total, 100U);
}

TEST(ConnectionBudget, DescribeLimitNamesTheSetting) {
  const ConnectionBudget::Limits limits{.per_pool = 4, .per_user = 8, .total = 100};
  const std::vector<std::pair<Limit, std::string>> rows = {
      {Limit::kNone, "no limit"},
      {Limit::kPool, "pool.max_connections=4"},
      {Limit::kUser, "pool.max_user_connections=8"},
      {Limit::kTotal, "backend.max_connections=100"},
  };
  for (const auto& [limit, text] : rows) {
    EXPECT_EQ(DescribeLimit(limit, limits), text);
  }
}

struct MoveRow {
  const char* name;
  PoolKey from;
  PoolKey to;
  bool can_move;
};

TEST(CanMoveTo, OnlyToAnotherCollationOfTheSameUserAndCapabilities) {
  const std::vector<MoveRow> rows = {
      {"other collation", kApp45, kApp33, true},
      {"other collation, the other way", kApp33, kApp45, true},
      {"same key", kApp45, kApp45, false},
      {"other capabilities", kApp45, kAppFlags45, false},
      {"other capabilities and collation", kApp33, kAppFlags45, false},
      {"other user", kApp45, kCron45, false},
      {"other user and collation", kApp45, kCron33, false},
      {"user name differs only in case",
       kApp45,
       {.user = "APP", .capabilities = kCapsA, .collation = 33},
       false},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(CanMoveTo(row.from, row.to), row.can_move) << row.name;
  }
}

}  // namespace
}  // namespace longlink::pool
