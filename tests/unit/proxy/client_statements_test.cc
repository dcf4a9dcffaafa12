#include "proxy/client_statements.h"

#include <gtest/gtest.h>

#include "protocol/command.h"
#include "proxy/statement_shapes.h"

namespace longlink::proxy {
namespace {

std::shared_ptr<const StatementShape> Shape(std::string text, std::uint64_t epoch = 1,
                                            std::size_t reply_bytes = 16) {
  auto shape = std::make_shared<StatementShape>();
  shape->key = pool::MakeStatementKey(std::move(text), "ctx");
  shape->epoch = epoch;
  shape->reply = {protocol::Bytes(reply_bytes, 0)};
  return shape;
}

TEST(ClientStatementsTest, IdsCountFromOneAndTheLastPreparedIsNamedByMinusOne) {
  ClientStatements statements(8);
  EXPECT_EQ(statements.Resolve(protocol::kLastPreparedStatementId), 0u);
  EXPECT_EQ(statements.Add(Shape("a")), 1u);
  EXPECT_EQ(statements.Add(Shape("b")), 2u);
  EXPECT_EQ(statements.Resolve(protocol::kLastPreparedStatementId), 2u);
  EXPECT_EQ(statements.Find(protocol::kLastPreparedStatementId)->shape->key->text, "b");
  // As the server: closing another statement keeps "the last prepared"; a failed prepare or
  // closing it forgets it.
  statements.Erase(1);
  EXPECT_EQ(statements.Resolve(protocol::kLastPreparedStatementId), 2u);
  statements.PrepareFailed();
  EXPECT_EQ(statements.Find(protocol::kLastPreparedStatementId), nullptr);
  EXPECT_EQ(statements.Add(Shape("c")), 3u);
  statements.Erase(3);
  EXPECT_EQ(statements.Find(protocol::kLastPreparedStatementId), nullptr);
  EXPECT_EQ(statements.Find(1), nullptr);
  ASSERT_NE(statements.Find(2), nullptr);
  // A reset closes them all; ids go on (the server's counter does).
  statements.Clear();
  EXPECT_EQ(statements.size(), 0u);
  EXPECT_EQ(statements.Add(Shape("d")), 4u);
}

TEST(ClientStatementsTest, TheLimitAndWhatHoldsTheConnection) {
  ClientStatements statements(2);
  const std::uint32_t a = statements.Add(Shape("a"));
  EXPECT_FALSE(statements.full());
  const std::uint32_t b = statements.Add(Shape("b"));
  EXPECT_TRUE(statements.full());
  EXPECT_EQ(statements.hold(), PinReason::kNone);
  statements.SetLongData(*statements.Find(a), true);
  EXPECT_EQ(statements.hold(), PinReason::kLongData);
  statements.SetCursor(*statements.Find(b), true);
  EXPECT_EQ(statements.hold(), PinReason::kCursor);
  statements.SetCursor(*statements.Find(b), true);  // Counted once.
  statements.Erase(b);
  EXPECT_EQ(statements.hold(), PinReason::kLongData);
  statements.SetLongData(*statements.Find(a), false);
  EXPECT_EQ(statements.hold(), PinReason::kNone);
  EXPECT_FALSE(statements.full());
  EXPECT_NE(statements.Find(a)->owner, 0u);
}

TEST(ClientStatementsTest, ContextAndParseVariables) {
  pool::SessionVariables plain;
  pool::SessionVariables ansi;
  ansi.Set("sql_mode", "ANSI_QUOTES");
  ansi.Set("time_zone", "+01:00");  // Not a parse variable.
  pool::SessionVariables zone;
  zone.Set("time_zone", "+01:00");
  const pool::PoolKey key{.user = "app"};
  EXPECT_EQ(StatementContext(key, "db", plain), StatementContext(key, "db", zone));
  EXPECT_NE(StatementContext(key, "db", plain), StatementContext(key, "db", ansi));
  EXPECT_NE(StatementContext(key, "db", plain), StatementContext(key, "other", plain));
  EXPECT_NE(StatementContext(key, "db", plain),
            StatementContext(pool::PoolKey{.user = "cron"}, "db", plain));
  const auto from = ParseVariablesOf(plain);
  const auto to = ParseVariablesOf(ansi);
  EXPECT_EQ(ParseVariableAssignments(from, from), "");
  EXPECT_EQ(ParseVariableAssignments(from, to), "SET SESSION sql_mode = 'ANSI_QUOTES'");
  EXPECT_EQ(ParseVariableAssignments(to, from), "SET SESSION sql_mode = DEFAULT");
}

TEST(StatementShapesTest, FoundUntilDdlMovesTheEpoch) {
  StatementShapes shapes;
  auto shape = Shape("SELECT ?", shapes.epoch());
  shapes.Add(shape);
  EXPECT_EQ(shapes.Find(*pool::MakeStatementKey("SELECT ?", "ctx")), shape);
  EXPECT_EQ(shapes.Find(*pool::MakeStatementKey("SELECT ?", "other")), nullptr);
  shapes.Invalidate();
  EXPECT_EQ(shapes.Find(*shape->key), nullptr);
  auto fresh = Shape("SELECT ?", shapes.epoch());
  shapes.Add(fresh);  // Replaces the stale one.
  EXPECT_EQ(shapes.Find(*shape->key), fresh);
  EXPECT_TRUE(IsDdlKeyword("ALTER"));
  EXPECT_FALSE(IsDdlKeyword("SELECT"));
}

TEST(StatementShapesTest, BoundedInBytes) {
  StatementShapes shapes;
  constexpr std::size_t kBig = 1024 * 1024;
  std::vector<std::shared_ptr<const StatementShape>> added;
  for (int i = 0; i < 20; ++i) {
    added.push_back(Shape("s" + std::to_string(i), shapes.epoch(), kBig));
    shapes.Add(added.back());
  }
  EXPECT_EQ(shapes.Find(*added.front()->key), nullptr);  // The oldest went first.
  EXPECT_EQ(shapes.Find(*added.back()->key), added.back());
}

}  // namespace
}  // namespace longlink::proxy
