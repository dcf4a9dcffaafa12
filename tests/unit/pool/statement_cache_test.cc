#include "pool/statement_cache.h"

#include <gtest/gtest.h>

namespace longlink::pool {
namespace {

TEST(StatementCacheTest, KeysDifferByTextAndContext) {
  const StatementKey a = MakeStatementKey("SELECT ?", "app/db");
  EXPECT_TRUE(SameStatement(*a, *MakeStatementKey("SELECT ?", "app/db")));
  EXPECT_FALSE(SameStatement(*a, *MakeStatementKey("SELECT ?", "app/other")));
  EXPECT_FALSE(SameStatement(*a, *MakeStatementKey("SELECT ? ", "app/db")));
}

TEST(StatementCacheTest, FreeEntriesAreShared) {
  StatementCache cache;
  const StatementKey key = MakeStatementKey("SELECT ?", "c");
  EXPECT_FALSE(cache.Find(*key, 1).has_value());
  EXPECT_EQ(cache.Add(key, 5, 0, 8), 0u);
  EXPECT_EQ(cache.Find(*MakeStatementKey("SELECT ?", "c"), 1), 5u);
  EXPECT_EQ(cache.Find(*key, 2), 5u);
}

TEST(StatementCacheTest, AnOwnedEntryServesOnlyItsOwnerAndComesFirst) {
  StatementCache cache;
  const StatementKey key = MakeStatementKey("SELECT ?", "c");
  cache.Add(key, 5, 0, 8);
  cache.Add(key, 6, 0, 8);
  cache.SetOwner(6, 42);  // Its cursor is open.
  EXPECT_EQ(cache.Find(*key, 42), 6u);
  EXPECT_EQ(cache.Find(*key, 7), 5u);
  cache.SetOwner(5, 43);
  EXPECT_FALSE(cache.Find(*key, 7).has_value());
  cache.Disown(42, /*drop=*/false);
  EXPECT_EQ(cache.Find(*key, 7), 6u);
  EXPECT_FALSE(cache.closes_due());
  cache.Disown(43, /*drop=*/true);
  EXPECT_EQ(cache.TakeCloses(), std::vector<std::uint32_t>{5});
  EXPECT_EQ(cache.size(), 1u);
}

TEST(StatementCacheTest, TheLeastRecentlyUsedFreeEntryIsEvicted) {
  StatementCache cache;
  const StatementKey a = MakeStatementKey("a", "");
  const StatementKey b = MakeStatementKey("b", "");
  const StatementKey c = MakeStatementKey("c", "");
  cache.Add(a, 1, 0, 2);
  cache.Add(b, 2, 0, 2);
  cache.Find(*a, 9);  // b is now the oldest.
  EXPECT_EQ(cache.Add(c, 3, 0, 2), 1u);
  EXPECT_EQ(cache.TakeCloses(), std::vector<std::uint32_t>{2});
  EXPECT_TRUE(cache.Find(*a, 9).has_value());
  EXPECT_FALSE(cache.Find(*b, 9).has_value());
  // Entries in use are not evicted: the cache stays over capacity until they are free.
  cache.SetOwner(1, 7);
  cache.SetOwner(3, 8);
  EXPECT_EQ(cache.Add(b, 4, 9, 2), 0u);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.closes_due());
}

TEST(StatementCacheTest, DropQueuesACloseAndClearForgetsAll) {
  StatementCache cache;
  cache.Add(MakeStatementKey("a", ""), 1, 0, 8);
  cache.Add(MakeStatementKey("b", ""), 2, 0, 8);
  cache.Drop(1);
  cache.Drop(99);  // Unknown: nothing to close.
  EXPECT_EQ(cache.TakeCloses(), std::vector<std::uint32_t>{1});
  EXPECT_FALSE(cache.closes_due());
  cache.Drop(2);
  cache.Clear();  // A reset closed them all on the server.
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.closes_due());
}

}  // namespace
}  // namespace longlink::pool
