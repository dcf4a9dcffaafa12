#include "auth/native_password.h"

#include <gtest/gtest.h>

#include <set>

#include "auth_test_util.h"

namespace longlink::auth {
namespace {

using testing::Bytes;
using testing::Hex;

// A fixed scramble for reproducible vectors.
constexpr std::string_view kScramble = "0123456789ABCDEFGHIJ";

TEST(AuthNativePasswordTest, Sha1KnownVectors) {
  // FIPS 180 test vectors.
  EXPECT_EQ(Hex(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Hex(Sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(AuthNativePasswordTest, StoredHashMatchesMysqlPassword) {
  struct Row {
    std::string_view password;
    std::string_view stored;  // SELECT PASSWORD('...') on MySQL 5.7 / MariaDB.
  };
  const Row rows[] = {
      {"mypass", "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4"},  // MySQL manual's example.
      {"password", "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"},
      {"root", "*81F5E21E35407D884A6CD4A731AEBFB6AF209E1B"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.password);
    const PasswordSecret secret = PasswordSecret::FromPassword(row.password);
    EXPECT_EQ(FormatNativePasswordHash(secret.Stage2()), row.stored);
    EXPECT_EQ(NativePasswordCredential::FromPassword(row.password).HashString(), row.stored);
    auto parsed = ParseNativePasswordHash(row.stored);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, secret.Stage2());
  }
}

TEST(AuthNativePasswordTest, ParseAcceptsLowercaseAndExplainsErrors) {
  auto lower = ParseNativePasswordHash("*6c8989366eaf75bb670ad8ea7a7fc1176a95cef4");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(FormatNativePasswordHash(*lower), "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4");

  struct Failure {
    std::string_view text;
    std::string_view fragment;
  };
  const Failure failures[] = {
      {"", "must start with '*'"},
      {"6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4", "must start with '*'"},
      {"*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF", "got 40 characters"},
      {"*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF44", "got 42 characters"},
      {"*6C8989366EAF75BB670AD8EA7A7FC1176A95CEG4", "'G' at position 39 is not a hex digit"},
      {"*zC8989366EAF75BB670AD8EA7A7FC1176A95CEF4", "'z' at position 1"},
  };
  for (const Failure& failure : failures) {
    SCOPED_TRACE(failure.text);
    auto parsed = ParseNativePasswordHash(failure.text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_NE(parsed.error().message.find(failure.fragment), std::string::npos)
        << parsed.error().message;
  }
  EXPECT_FALSE(NativePasswordCredential::FromHash("*123").ok());
}

TEST(AuthNativePasswordTest, ClientTokenMatchesTheFormula) {
  // token = SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw))), computed step by step.
  const Sha1Digest stage1 = Sha1("mypass");
  const Sha1Digest stage2 = Sha1(stage1);
  std::string input(kScramble);
  input.append(reinterpret_cast<const char*>(stage2.data()), stage2.size());
  const Sha1Digest mask = Sha1(input);
  std::vector<std::uint8_t> expected(kSha1Length);
  for (std::size_t i = 0; i < kSha1Length; ++i) expected[i] = stage1[i] ^ mask[i];

  const auto token = ComputeAuthResponse("mypass", Bytes(kScramble));
  EXPECT_EQ(token, expected);
  EXPECT_EQ(token.size(), kSha1Length);
  // The empty password sends an empty response.
  EXPECT_TRUE(ComputeAuthResponse("", Bytes(kScramble)).empty());
}

TEST(AuthNativePasswordTest, VerifyWithPlaintextOrHash) {
  const auto token = ComputeAuthResponse("s3cret", Bytes(kScramble));
  const auto from_password = NativePasswordCredential::FromPassword("s3cret");
  auto from_hash =
      NativePasswordCredential::FromHash(FormatNativePasswordHash(Sha1(Sha1("s3cret"))));
  ASSERT_TRUE(from_hash.ok());

  const std::vector<const NativePasswordCredential*> credentials = {&from_password, &*from_hash};
  for (const NativePasswordCredential* credential : credentials) {
    auto secret = credential->Verify(token, Bytes(kScramble));
    ASSERT_TRUE(secret.has_value());
    EXPECT_EQ(*secret, PasswordSecret::FromPassword("s3cret"));
    EXPECT_EQ(Hex(secret->stage1()), Hex(Sha1("s3cret")));

    // Wrong password, other scramble, cut or extended tokens, empty response: all refused.
    EXPECT_FALSE(
        credential->Verify(ComputeAuthResponse("s3creT", Bytes(kScramble)), Bytes(kScramble)));
    EXPECT_FALSE(credential->Verify(token, Bytes("0123456789ABCDEFGHIK")));
    EXPECT_FALSE(credential->Verify(std::span(token).first(19), Bytes(kScramble)));
    std::vector<std::uint8_t> longer = token;
    longer.push_back(0);
    EXPECT_FALSE(credential->Verify(longer, Bytes(kScramble)));
    EXPECT_FALSE(credential->Verify({}, Bytes(kScramble)));
    for (std::size_t i = 0; i < token.size(); ++i) {
      std::vector<std::uint8_t> flipped = token;
      flipped[i] ^= 0x01;
      EXPECT_FALSE(credential->Verify(flipped, Bytes(kScramble))) << i;
    }
  }
}

TEST(AuthNativePasswordTest, EmptyPassword) {
  const auto empty = NativePasswordCredential::FromPassword("");
  EXPECT_TRUE(empty.is_empty_password());
  EXPECT_EQ(empty.HashString(), "");
  auto from_hash = NativePasswordCredential::FromHash("");
  ASSERT_TRUE(from_hash.ok());
  EXPECT_TRUE(from_hash->is_empty_password());

  auto secret = empty.Verify({}, Bytes(kScramble));
  ASSERT_TRUE(secret.has_value());
  EXPECT_TRUE(secret->is_empty_password());
  EXPECT_TRUE(secret->AuthResponse(Bytes(kScramble)).empty());
  // Any non-empty response is wrong for the empty password.
  EXPECT_FALSE(empty.Verify(ComputeAuthResponse("x", Bytes(kScramble)), Bytes(kScramble)));
  EXPECT_FALSE(secret == PasswordSecret::FromPassword("x"));
  EXPECT_TRUE(secret == PasswordSecret());
}

// The proxy's path: the client logs in to the proxy, which stores only the hash; the proxy
// recovers SHA1(pw) and logs in to a backend that sends its own scramble; the backend's check
// (the server-side formula with its stored stage2) accepts the proxy's token.
TEST(AuthNativePasswordTest, ProxyRoundTripWithOnlyTheHash) {
  const std::string password = "correct horse battery staple";
  const std::string stored = FormatNativePasswordHash(Sha1(Sha1(password)));
  auto credential = NativePasswordCredential::FromHash(stored);
  ASSERT_TRUE(credential.ok());

  for (int round = 0; round < 20; ++round) {
    const Scramble client_scramble = GenerateScramble();
    const auto client_token = ComputeAuthResponse(password, client_scramble);
    auto secret = credential->Verify(client_token, client_scramble);
    ASSERT_TRUE(secret.has_value());

    const Scramble backend_scramble = GenerateScramble();
    const auto backend_token = secret->AuthResponse(backend_scramble);
    EXPECT_EQ(backend_token, ComputeAuthResponse(password, backend_scramble));
    auto backend_stage2 = ParseNativePasswordHash(stored);
    ASSERT_TRUE(backend_stage2.ok());
    EXPECT_TRUE(VerifyToken(backend_token, backend_scramble, *backend_stage2));
    EXPECT_FALSE(VerifyToken(backend_token, client_scramble, *backend_stage2));
  }
}

TEST(AuthNativePasswordTest, RecoverStage1Directly) {
  const Sha1Digest stage2 = Sha1(Sha1("pw"));
  auto stage1 =
      RecoverStage1(ComputeAuthResponse("pw", Bytes(kScramble)), Bytes(kScramble), stage2);
  ASSERT_TRUE(stage1.has_value());
  EXPECT_EQ(*stage1, Sha1("pw"));
  EXPECT_FALSE(RecoverStage1({}, Bytes(kScramble), stage2).has_value());
}

TEST(AuthNativePasswordTest, ScramblesArePrintableAndFresh) {
  std::set<Scramble> seen;
  std::set<std::uint8_t> characters;
  for (int i = 0; i < 200; ++i) {
    const Scramble scramble = GenerateScramble();
    for (std::uint8_t byte : scramble) {
      EXPECT_GE(byte, 33);
      EXPECT_LE(byte, 126);
      characters.insert(byte);
    }
    seen.insert(scramble);
  }
  EXPECT_EQ(seen.size(), 200U);
  // 4000 draws from 94 characters: all of them show up.
  EXPECT_EQ(characters.size(), 94U);
}

TEST(AuthNativePasswordTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals(Bytes("abc"), Bytes("abc")));
  EXPECT_FALSE(ConstantTimeEquals(Bytes("abc"), Bytes("abd")));
  EXPECT_FALSE(ConstantTimeEquals(Bytes("abc"), Bytes("ab")));
  EXPECT_TRUE(ConstantTimeEquals(Bytes(""), Bytes("")));
}

}  // namespace
}  // namespace longlink::auth
