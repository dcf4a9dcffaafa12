#include "proxy/known_schemas.h"

#include <gtest/gtest.h>

#include <string>

namespace longlink::proxy {
namespace {

TEST(KnownSchemasTest, KnownPerUserUntilRefused) {
  KnownSchemas known;
  EXPECT_FALSE(known.Known("app", "shop"));
  known.Note("app", "shop", /*exists=*/true);
  EXPECT_TRUE(known.Known("app", "shop"));
  EXPECT_FALSE(known.Known("other", "shop")) << "grants are per user";
  EXPECT_FALSE(known.Known("app", "Shop"));
  known.Note("app", "shop", /*exists=*/false);
  EXPECT_FALSE(known.Known("app", "shop"));
}

TEST(KnownSchemasTest, UserAndSchemaDoNotRunTogether) {
  KnownSchemas known;
  known.Note("ab", "c", true);
  EXPECT_FALSE(known.Known("a", "bc"));
  EXPECT_TRUE(known.Known("ab", "c"));
}

TEST(KnownSchemasTest, NoSchemaIsNeverRecorded) {
  KnownSchemas known;
  known.Note("app", "", true);
  EXPECT_EQ(known.size(), 0u);
}

TEST(KnownSchemasTest, BoundedStartsAfreshWhenFull) {
  KnownSchemas known;
  for (std::size_t i = 0; i < KnownSchemas::kCapacity; ++i) {
    known.Note("app", "db" + std::to_string(i), true);
  }
  EXPECT_EQ(known.size(), KnownSchemas::kCapacity);
  known.Note("app", "db0", true);  // Already there: nothing dropped.
  EXPECT_EQ(known.size(), KnownSchemas::kCapacity);
  known.Note("app", "one-more", true);
  EXPECT_EQ(known.size(), 1u);
  EXPECT_TRUE(known.Known("app", "one-more"));
  EXPECT_FALSE(known.Known("app", "db1"));
}

}  // namespace
}  // namespace longlink::proxy
