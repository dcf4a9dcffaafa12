#include "auth/ed25519.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "auth_test_util.h"

namespace longlink::auth {
namespace {

using testing::FromHex;
using testing::Hex;

// The nonce of the client-signature vectors: bytes 0x00..0x1f.
std::vector<std::uint8_t> CountingNonce() {
  std::vector<std::uint8_t> nonce(kEd25519NonceLength);
  for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<std::uint8_t>(i);
  return nonce;
}

constexpr std::string_view kPassword32 = "abcdefghijklmnopqrstuvwxyz012345";
constexpr std::string_view kLongPassword =
    "correct horse battery staple, this password is clearly longer than sixty-four bytes in "
    "total!!";
constexpr std::string_view kUtf8Password =
    "p\xc3\xa4ssw\xc3\xb6rd-\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";

TEST(AuthEd25519Test, PublicKeyMatchesMariaDb) {
  struct Row {
    std::string_view name;
    std::string_view password;
    std::string_view stored;
  };
  // Read from MariaDB 10.11.19 (Debian 12): after INSTALL SONAME 'auth_ed25519', each from
  // CREATE USER eN IDENTIFIED VIA ed25519 USING PASSWORD('...') then
  // SELECT JSON_VALUE(Priv,'$.authentication_string') FROM mysql.global_priv WHERE User='eN'.
  // CREATE USER with PASSWORD('') stores "" (no password at all), so the empty password's
  // key is from the plugin's UDF instead: SELECT ed25519_password('').
  const Row rows[] = {
      {"empty", "", "4LH+dBF+G5W2CKTyId8xR3SyDqZoQjUNUVNxx8aWbG4"},
      {"short", "secret", "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY"},
      {"32 bytes", kPassword32, "d72O8L9NlCPzaBsB+LW0z98O5p+zVqd2JYnxtlzcq2M"},
      {"94 bytes", kLongPassword, "AlKklItDBsFSJ2UiSREZ/oxfgis3CFBk/lHX6/jZ1Kw"},
      {"UTF-8", kUtf8Password, "3PJzGeA4KmbOufw7+6v7U46YZ2la5OnnOdpjZ/9BrUY"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const Ed25519PublicKey key = Ed25519PublicKeyOf(row.password);
    EXPECT_EQ(FormatEd25519Stored(key), row.stored);
    auto parsed = ParseEd25519Stored(row.stored);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, key);
  }
}

TEST(AuthEd25519Test, SignatureMatchesMariaDbClient) {
  struct Row {
    std::string_view name;
    std::string_view password;
    std::string_view signature;  // hex
  };
  // Made by libmariadb 3.3 (Debian 12) itself: its client_ed25519.so plugin, loaded with
  // dlopen and driven through a fake MYSQL_PLUGIN_VIO that hands it the nonce 00 01 .. 1f.
  const Row rows[] = {
      {"empty", "",
       "1e7e2c09c0c0e5f755a202872d95c85c4b14d23a888e9c40a0e9323e1ed28dd4"
       "aee4a8197c2d2ca26942bf6496d61c60c63661959ab57706eb0bfda05749ad0f"},
      {"short", "secret",
       "546c3e9311d19ee389d1ae5d945821bfe459423910136f16b3bd2ae89fd7d63b"
       "449e689f4be812891a85b8f999076446d92adb83d0707215aaa60b5a23220907"},
      {"32 bytes", kPassword32,
       "c1345aa15c5f757713b2ba10e2a9d0702dd87bbbc753e72e08b219d429a9a213"
       "b8316a3ea6b00035c3127b4dc3b80e27b4260acb37f57b2747ecc971f1a89b01"},
      {"UTF-8", kUtf8Password,
       "91a52e6aec6c1c43b46549451ec56562b6c0a1934a96a39cefa81c9e236782cc"
       "723c9a7c2d326665f37012f6612a591d80e54508d314897428c3ecf42034e005"},
  };
  const std::vector<std::uint8_t> nonce = CountingNonce();
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(Hex(Ed25519Sign(row.password, nonce)), row.signature);
    EXPECT_TRUE(Ed25519Verify(Ed25519PublicKeyOf(row.password), nonce, FromHex(row.signature)));
  }
}

TEST(AuthEd25519Test, ThirtyTwoBytePasswordIsRfc8032Seed) {
  struct Row {
    std::string_view name;
    std::string_view seed;  // hex; used as the password's 32 bytes
    std::string_view public_key;
    std::string_view message;
    std::string_view signature;
  };
  // RFC 8032 section 7.1, TEST 1 and TEST 2.
  const Row rows[] = {
      {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
       "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
       "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const std::vector<std::uint8_t> seed = FromHex(row.seed);
    const std::string password(seed.begin(), seed.end());
    const std::vector<std::uint8_t> message = FromHex(row.message);
    EXPECT_EQ(Hex(Ed25519PublicKeyOf(password)), row.public_key);
    EXPECT_EQ(Hex(Ed25519Sign(password, message)), row.signature);
  }
}

TEST(AuthEd25519Test, VerifyRejectsWhatWasNotSigned) {
  const std::vector<std::uint8_t> nonce = CountingNonce();
  const Ed25519PublicKey key = Ed25519PublicKeyOf("secret");
  const Ed25519Signature signature = Ed25519Sign("secret", nonce);
  ASSERT_TRUE(Ed25519Verify(key, nonce, signature));

  // Every single flipped bit, in the signature and in the message, is refused.
  for (std::size_t bit = 0; bit < signature.size() * 8; ++bit) {
    Ed25519Signature flipped = signature;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(Ed25519Verify(key, nonce, flipped)) << "signature bit " << bit;
  }
  for (std::size_t bit = 0; bit < nonce.size() * 8; ++bit) {
    std::vector<std::uint8_t> other = nonce;
    other[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(Ed25519Verify(key, other, signature)) << "message bit " << bit;
  }

  struct Case {
    std::string_view name;
    Ed25519PublicKey key;
    std::vector<std::uint8_t> signature;
  };
  const std::vector<std::uint8_t> full(signature.begin(), signature.end());
  std::vector<std::uint8_t> longer = full;
  longer.push_back(0);
  const Case cases[] = {
      {"another password's key", Ed25519PublicKeyOf("Secret"), full},
      {"empty password's key", Ed25519PublicKeyOf(""), full},
      {"63 bytes", key, {full.begin(), full.end() - 1}},
      {"65 bytes", key, longer},
      {"empty", key, {}},
      {"all zero", key, std::vector<std::uint8_t>(kEd25519SignatureLength, 0)},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(Ed25519Verify(c.key, nonce, c.signature)) << c.name;
  }
}

TEST(AuthEd25519Test, SignVerifyRoundTrip) {
  const std::string_view passwords[] = {"",          "a",           "secret",
                                        kPassword32, kLongPassword, kUtf8Password};
  const std::vector<std::uint8_t> messages[] = {
      {}, CountingNonce(), std::vector<std::uint8_t>(1000, 0xa5)};
  for (std::string_view password : passwords) {
    for (const auto& message : messages) {
      SCOPED_TRACE(std::string(password) + " / " + std::to_string(message.size()));
      EXPECT_TRUE(
          Ed25519Verify(Ed25519PublicKeyOf(password), message, Ed25519Sign(password, message)));
    }
  }
}

TEST(AuthEd25519Test, ParseAcceptsWhatMariaDbAccepts) {
  struct Row {
    std::string_view name;
    std::string_view stored;
  };
  const Row rows[] = {
      {"one padding character", "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY="},
      // MariaDB 10.11 accepts CREATE USER t9 IDENTIFIED VIA ed25519 USING '...YJZ' (the last
      // character's extra bits set), and `mariadb -ut9 -psecret` then logs in.
      {"extra bits set", "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJZ"},
      {"all extra bits set", "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJb"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto parsed = ParseEd25519Stored(row.stored);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(*parsed, Ed25519PublicKeyOf("secret"));
  }
}

TEST(AuthEd25519Test, ParseExplainsErrors) {
  struct Failure {
    std::string_view text;
    std::string_view message_part;
  };
  const Failure failures[] = {
      {"", "got 0"},
      {"ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJ", "got 42"},
      {"ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJYA", "got 44"},
      {"ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY==", "got 45"},
      {"ZIgUREUg5PVgQ6LskhXmO-eZLS0nC8be6HPjYWR4YJY", "'-' at position 21"},
      {"ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJ=", "'=' at position 42"},
  };
  for (const Failure& f : failures) {
    SCOPED_TRACE(f.text);
    auto parsed = ParseEd25519Stored(f.text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_NE(parsed.error().message.find(f.message_part), std::string::npos)
        << parsed.error().message;
  }
}

}  // namespace
}  // namespace longlink::auth
