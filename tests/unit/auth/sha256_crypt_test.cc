#include "auth/sha256_crypt.h"

#include <gtest/gtest.h>

#include <string>

namespace longlink::auth {
namespace {

TEST(AuthSha256CryptTest, MatchesGlibcCrypt) {
  struct Row {
    std::string_view name;
    std::string password;
    std::string_view salt;
    unsigned rounds;
    std::string_view digest;
  };
  // glibc 2.36's crypt(3) on Debian 12 (python3 -c 'import crypt;
  // print(crypt.crypt(PASSWORD, "$5$rounds=ROUNDS$SALT"))'), the part after the last '$'.
  // glibc keeps at most 16 bytes of salt, so these salts are no longer.
  const Row rows[] = {
      {"Drepper's example", "Hello world!", "saltstring", 5000,
       "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
      {"empty password", "", "abc", 1000, "sP9FmVrTEqPcRDE7OxGDY0efugGF1dtCtqYcUsX9wmD"},
      {"70-byte password, 16-byte salt", std::string(70, 'x'), "0123456789abcdef", 1234,
       "LRpJxV8CDuXUp4GOg20tfGRijHpB0DIKKMGrPCHNC89"},
      {"1-byte password and salt", "a", "s", 5000, "qgP3B1D0m82PjqmN9fAYcv/rBMS9t2tLp7NrzhQCCyC"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(Sha256CryptDigest(row.password, row.salt, row.rounds), row.digest);
  }
}

TEST(AuthSha256CryptTest, EverythingChangesTheDigest) {
  const std::string base = Sha256CryptDigest("secret", "abcdefghij0123456789", 5000);
  EXPECT_EQ(base.size(), kSha256CryptDigestLength);
  EXPECT_NE(Sha256CryptDigest("secreT", "abcdefghij0123456789", 5000), base);
  EXPECT_NE(Sha256CryptDigest("secret", "abcdefghij012345678", 5000), base);
  EXPECT_NE(Sha256CryptDigest("secret", "abcdefghij0123456789", 5001), base);
}

}  // namespace
}  // namespace longlink::auth
