// ConnectionRegistry: one state per connection as list membership; transitions, counts,
// lookups by server thread id, and the orders of idle connections (checkout, retirement,
// eviction).
#include "pool/connection_registry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pool/pool_key.h"
#include "protocol/constants.h"

namespace longlink::pool {
namespace {

namespace cap = protocol::capability;
using State = ConnectionState;
using Change = ConnectionRegistry::Change;
using TimePoint = ConnectionRegistry::TimePoint;

constexpr protocol::Capabilities kCaps = cap::kLongFlag | cap::kDeprecateEof;
const PoolKey kApp45{.user = "app", .capabilities = kCaps, .collation = 45};
const PoolKey kApp33{.user = "app", .capabilities = kCaps, .collation = 33};
const PoolKey kApp8{.user = "app", .capabilities = kCaps, .collation = 8};
const PoolKey kCron45{.user = "cron", .capabilities = kCaps, .collation = 45};

constexpr std::uint64_t kSession = 7;

TimePoint At(int seconds) { return TimePoint{} + std::chrono::seconds(seconds); }

// A connection of `key` brought to `state` along a legal path, with thread id `thread`.
ConnectionId Make(ConnectionRegistry& registry, const PoolKey& key, State state,
                  std::uint32_t thread, TimePoint used = {}) {
  const ConnectionId id = registry.Open(key, state == State::kOpening ? 0 : kSession);
  if (state == State::kOpening) return id;
  if (state == State::kActive) {
    EXPECT_TRUE(
        registry.Transition(id, {.to = State::kActive, .session = kSession, .thread_id = thread}));
    return id;
  }
  EXPECT_TRUE(
      registry.Transition(id, {.to = State::kIdle, .thread_id = thread, .last_used_at = used}));
  if (state == State::kChecking) {
    EXPECT_TRUE(registry.Transition(id, {.to = State::kChecking, .session = kSession}));
  } else if (state == State::kMoving) {
    EXPECT_TRUE(
        registry.Transition(id, {.to = State::kMoving, .session = kSession, .move_to = kApp33}));
  }
  return id;
}

constexpr State kAll[] = {State::kOpening, State::kIdle, State::kChecking, State::kMoving,
                          State::kActive};

struct TransitionRow {
  State from;
  State to;
  bool legal;
};

TEST(ConnectionRegistry, TransitionsFollowTheTable) {
  const std::vector<TransitionRow> legal = {
      {State::kOpening, State::kIdle, true},  {State::kOpening, State::kActive, true},
      {State::kIdle, State::kChecking, true}, {State::kIdle, State::kMoving, true},
      {State::kChecking, State::kIdle, true}, {State::kChecking, State::kActive, true},
      {State::kMoving, State::kActive, true}, {State::kActive, State::kIdle, true},
  };
  for (const State from : kAll) {
    for (const State to : kAll) {
      bool expected = false;
      for (const auto& row : legal) expected |= row.from == from && row.to == to;
      const std::string name = std::string(ToString(from)) + " -> " + std::string(ToString(to));
      EXPECT_EQ(IsLegalTransition(from, to), expected) << name;

      ConnectionRegistry registry;
      const ConnectionId id = Make(registry, kApp45, from, 100);
      const PoolKey key = from == State::kMoving ? kApp33 : kApp45;
      Change change{.to = to, .session = kSession, .thread_id = 100};
      if (to == State::kMoving) change.move_to = key == kApp45 ? kApp33 : kApp45;
      EXPECT_EQ(registry.Transition(id, change), expected) << name;
      const auto info = registry.Find(id);
      ASSERT_TRUE(info) << name;
      EXPECT_EQ(info->state, expected ? to : from) << name;
      EXPECT_EQ(registry.total(), 1U) << name;
      EXPECT_EQ(registry.Count(info->key, info->state), 1U) << name;
    }
  }
}

TEST(ConnectionRegistry, RefusesMovesThatAreNotToASibling) {
  ConnectionRegistry registry;
  const ConnectionId id = Make(registry, kApp45, State::kIdle, 100);
  struct Row {
    const char* name;
    Change change;
  };
  const std::vector<Row> rows = {
      {"moving without a pool", {.to = State::kMoving, .session = kSession}},
      {"to the same pool", {.to = State::kMoving, .session = kSession, .move_to = kApp45}},
      {"to another user", {.to = State::kMoving, .session = kSession, .move_to = kCron45}},
      {"a pool for another state", {.to = State::kChecking, .session = 1, .move_to = kApp33}},
  };
  for (const auto& row : rows) {
    EXPECT_FALSE(registry.Transition(id, row.change)) << row.name;
    EXPECT_EQ(registry.Find(id)->state, State::kIdle) << row.name;
    EXPECT_EQ(registry.Find(id)->key, kApp45) << row.name;
  }
  EXPECT_TRUE(registry.Transition(id, {.to = State::kMoving, .session = 3, .move_to = kApp33}));
  EXPECT_EQ(registry.Find(id)->key, kApp33);
  EXPECT_EQ(registry.Count(kApp45, State::kIdle), 0U);
  EXPECT_EQ(registry.Count(kApp33, State::kMoving), 1U);
}

TEST(ConnectionRegistry, UnknownConnectionsAreRefused) {
  ConnectionRegistry registry;
  EXPECT_FALSE(registry.Transition(42, {.to = State::kIdle}));
  EXPECT_FALSE(registry.Close(42));
  const ConnectionId id = registry.Open(kApp45, 0);
  EXPECT_TRUE(registry.Close(id));
  EXPECT_FALSE(registry.Close(id));
  EXPECT_FALSE(registry.Find(id));
  EXPECT_NE(registry.Open(kApp45, 0), id);  // Handles are never reused.
}

TEST(ConnectionRegistry, FindsConnectionsByThreadId) {
  ConnectionRegistry registry;
  const ConnectionId opening = registry.Open(kApp45, kSession);
  const ConnectionId idle = Make(registry, kApp45, State::kIdle, 11);
  const ConnectionId active = Make(registry, kCron45, State::kActive, 12);

  EXPECT_FALSE(registry.FindByThread(0));  // Not known while opening.
  EXPECT_FALSE(registry.FindByThread(99));

  auto info = registry.FindByThread(11);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->id, idle);
  EXPECT_EQ(info->state, State::kIdle);
  EXPECT_EQ(info->key.user, "app");
  EXPECT_FALSE(info->session);  // An idle connection is nobody's.

  info = registry.FindByThread(12);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->id, active);
  EXPECT_EQ(info->state, State::kActive);
  EXPECT_EQ(info->key.user, "cron");
  EXPECT_EQ(info->session, kSession);

  // The session follows the connection through its states.
  ASSERT_TRUE(registry.Transition(active, {.to = State::kIdle, .last_used_at = At(1)}));
  EXPECT_FALSE(registry.FindByThread(12)->session);
  ASSERT_TRUE(registry.Transition(active, {.to = State::kChecking}));  // Keepalive.
  EXPECT_FALSE(registry.FindByThread(12)->session);
  ASSERT_TRUE(registry.Transition(active, {.to = State::kIdle, .last_used_at = At(1)}));
  ASSERT_TRUE(registry.Transition(active, {.to = State::kChecking, .session = 9}));  // Checkout.
  EXPECT_EQ(registry.FindByThread(12)->session, 9U);

  // The thread id is known once it opened.
  ASSERT_TRUE(registry.Transition(opening, {.to = State::kActive, .session = 5, .thread_id = 13}));
  EXPECT_EQ(registry.FindByThread(13)->id, opening);

  ASSERT_TRUE(registry.Close(idle));
  EXPECT_FALSE(registry.FindByThread(11));
  EXPECT_TRUE(registry.FindByThread(12));

  // A restarted server numbers from 1 again: the newer connection keeps the number when the
  // older one closes.
  const ConnectionId old_one = Make(registry, kApp45, State::kIdle, 1);
  const ConnectionId new_one = Make(registry, kApp45, State::kIdle, 1);
  EXPECT_EQ(registry.FindByThread(1)->id, new_one);
  ASSERT_TRUE(registry.Close(old_one));
  EXPECT_EQ(registry.FindByThread(1)->id, new_one);
}

TEST(ConnectionRegistry, CountsAreListLengths) {
  ConnectionRegistry registry;
  Make(registry, kApp45, State::kIdle, 1);
  Make(registry, kApp45, State::kIdle, 2);
  const ConnectionId pinging = Make(registry, kApp45, State::kIdle, 3);
  ASSERT_TRUE(registry.Transition(pinging, {.to = State::kChecking}));  // The pool's own.
  Make(registry, kApp45, State::kChecking, 4);                          // A client's.
  Make(registry, kApp45, State::kActive, 5);
  const ConnectionId for_min_idle = registry.Open(kApp45, 0);
  registry.Open(kApp45, kSession);
  Make(registry, kApp33, State::kActive, 6);
  const ConnectionId cron = Make(registry, kCron45, State::kIdle, 7);

  EXPECT_EQ(registry.Count(kApp45, State::kIdle), 2U);
  EXPECT_EQ(registry.Count(kApp45, State::kChecking), 2U);
  EXPECT_EQ(registry.CountUnclaimed(kApp45, State::kChecking), 1U);
  EXPECT_EQ(registry.Count(kApp45, State::kActive), 1U);
  EXPECT_EQ(registry.Count(kApp45, State::kOpening), 2U);
  EXPECT_EQ(registry.CountUnclaimed(kApp45, State::kOpening), 1U);
  EXPECT_EQ(registry.Count(kApp8, State::kIdle), 0U);  // A pool never seen.

  auto counts = registry.CountsFor(kApp45);
  EXPECT_EQ(counts.pool, 7U);
  EXPECT_EQ(counts.user, 8U);
  EXPECT_EQ(counts.total, 9U);
  counts = registry.CountsFor(kApp8);
  EXPECT_EQ(counts.pool, 0U);
  EXPECT_EQ(counts.user, 8U);
  EXPECT_EQ(counts.total, 9U);

  // As if one were closed: only the counts it is part of drop.
  counts = registry.CountsFor(kApp45, /*excluding=*/for_min_idle);
  EXPECT_EQ(counts.pool, 6U);
  EXPECT_EQ(counts.user, 7U);
  EXPECT_EQ(counts.total, 8U);
  counts = registry.CountsFor(kApp45, /*excluding=*/cron);
  EXPECT_EQ(counts.pool, 7U);
  EXPECT_EQ(counts.user, 8U);
  EXPECT_EQ(counts.total, 8U);

  ASSERT_TRUE(registry.Close(for_min_idle));
  EXPECT_EQ(registry.CountUnclaimed(kApp45, State::kOpening), 0U);
  EXPECT_EQ(registry.CountsFor(kApp45).pool, 6U);
}

TEST(ConnectionRegistry, IdleOrders) {
  ConnectionRegistry registry;
  // Returned to the pool in this order; last used at other times (a pinged connection comes
  // back at the newest end with its old use time).
  const ConnectionId a = Make(registry, kApp45, State::kIdle, 1, At(30));
  const ConnectionId b = Make(registry, kApp45, State::kIdle, 2, At(10));
  const ConnectionId c = Make(registry, kApp45, State::kIdle, 3, At(40));
  EXPECT_EQ(registry.IdleOldestFirst(kApp45), (std::vector<ConnectionId>{a, b, c}));
  EXPECT_EQ(registry.NewestIdle(kApp45), c);
  EXPECT_FALSE(registry.NewestIdle(kApp33));

  ASSERT_TRUE(registry.Transition(a, {.to = State::kChecking}));
  ASSERT_TRUE(registry.Transition(a, {.to = State::kIdle, .last_used_at = At(30)}));
  EXPECT_EQ(registry.IdleOldestFirst(kApp45), (std::vector<ConnectionId>{b, c, a}));
  EXPECT_EQ(registry.NewestIdle(kApp45), a);

  // Siblings: the newest idle of a pool with more than `keep` idle.
  EXPECT_EQ(registry.NewestSiblingIdle(kApp33, /*keep=*/2), a);
  EXPECT_FALSE(registry.NewestSiblingIdle(kApp33, /*keep=*/3));
  EXPECT_FALSE(registry.NewestSiblingIdle(kApp45, 0));  // Its own pool is no sibling.
  EXPECT_FALSE(registry.NewestSiblingIdle(kCron45, 0));
}

TEST(ConnectionRegistry, EvictsTheLeastRecentlyUsedOfOtherPools) {
  ConnectionRegistry registry;
  const ConnectionId app45 = Make(registry, kApp45, State::kIdle, 1, At(5));  // The asker's.
  const ConnectionId app33 = Make(registry, kApp33, State::kIdle, 2, At(20));
  Make(registry, kApp33, State::kIdle, 3, At(1));  // Not at its pool's oldest end.
  const ConnectionId app8 = Make(registry, kApp8, State::kIdle, 4, At(30));
  const ConnectionId cron = Make(registry, kCron45, State::kIdle, 5, At(10));
  Make(registry, kCron45, State::kActive, 6);

  EXPECT_EQ(registry.EvictionCandidate(kApp45, /*same_user=*/false), cron);
  EXPECT_EQ(registry.EvictionCandidate(kApp45, /*same_user=*/true), app33);
  ASSERT_TRUE(registry.Close(app33));
  // app33's next oldest is now at the front (used at 1).
  EXPECT_EQ(registry.EvictionCandidate(kApp45, true), registry.NewestIdle(kApp33));
  ASSERT_TRUE(registry.Close(*registry.NewestIdle(kApp33)));
  EXPECT_EQ(registry.EvictionCandidate(kApp45, true), app8);
  ASSERT_TRUE(registry.Close(app8));
  EXPECT_FALSE(registry.EvictionCandidate(kApp45, true));
  EXPECT_EQ(registry.EvictionCandidate(kApp45, false), cron);
  EXPECT_EQ(registry.EvictionCandidate(kCron45, false), app45);  // Never from the asker's pool.
}

}  // namespace
}  // namespace longlink::pool
