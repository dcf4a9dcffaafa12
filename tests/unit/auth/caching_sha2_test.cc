#include "auth/caching_sha2.h"

#include <gtest/gtest.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>

#include <string>

#include "auth_test_util.h"

namespace longlink::auth {
namespace {

using testing::Bytes;
using testing::FromHex;
using testing::Hex;
using testing::HexToString;

constexpr std::string_view kUtf8Password =
    "p\xc3\xa4ssw\xc3\xb6rd-\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e";

TEST(AuthCachingSha2Test, Sha256KnownVectors) {
  // FIPS 180-2 examples.
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(AuthCachingSha2Test, TokenMatchesPyMySql) {
  struct Row {
    std::string name;
    std::string password;
    std::string nonce;
    std::string_view token;  // hex
  };
  // PyMySQL 1.0.2 (Debian 12): pymysql._auth.scramble_caching_sha2(password, nonce).hex().
  const Row rows[] = {
      {"short", "secret", "12345678901234567890",
       "51ecd6dedbd34d5445c0a190d4f51acf0d23b94db66c91f3f789faa9193751cd"},
      {"UTF-8", std::string(kUtf8Password), HexToString("0102030405060708090a0b0c0d0e0f1011121314"),
       "e2176b1aac0f30b87193db7b3e926b98d07e5ac334361d98eb337493a2b79aba"},
      {"100 bytes", std::string(100, 'x'), "ABCDEFGHIJKLMNOPQRST",
       "3e5a24f4abb8ef56ae6febe09d12040c492f979eede3a1f1817678c98a820da1"},
      {"empty", "", "12345678901234567890", ""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const std::vector<std::uint8_t> token = CachingSha2Token(row.password, Bytes(row.nonce));
    EXPECT_EQ(Hex(token), row.token);
    EXPECT_TRUE(VerifyCachingSha2Token(token, Bytes(row.nonce), row.password));
  }
}

TEST(AuthCachingSha2Test, VerifyTokenRejects) {
  const std::string nonce = "12345678901234567890";
  const std::vector<std::uint8_t> token = CachingSha2Token("secret", Bytes(nonce));
  std::vector<std::uint8_t> flipped = token;
  flipped[31] ^= 1;
  struct Case {
    std::string_view name;
    std::vector<std::uint8_t> token;
    std::string nonce;
    std::string_view password;
  };
  const Case cases[] = {
      {"wrong password", token, nonce, "Secret"},
      {"other nonce", token, "12345678901234567891", "secret"},
      {"flipped bit", flipped, nonce, "secret"},
      {"truncated", {token.begin(), token.end() - 1}, nonce, "secret"},
      {"empty token, a password", {}, nonce, "secret"},
      {"a token, the empty password", token, nonce, ""},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(VerifyCachingSha2Token(c.token, Bytes(c.nonce), c.password)) << c.name;
  }
  EXPECT_TRUE(VerifyCachingSha2Token({}, Bytes(nonce), ""));
}

TEST(AuthCachingSha2Test, XorPasswordWithNonce) {
  struct Row {
    std::string_view name;
    std::string_view password_nul;  // hex
    std::string_view nonce;         // hex
    std::string_view expected;      // hex
  };
  const Row rows[] = {
      {"shorter than the nonce", "616200", "0102030405", "606003"},
      {"nonce repeated", "6162636465660000", "0102", "6060626664640102"},
      {"empty", "", "0102", ""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const std::vector<std::uint8_t> mixed =
        XorPasswordWithNonce(FromHex(row.password_nul), FromHex(row.nonce));
    EXPECT_EQ(Hex(mixed), row.expected);
    EXPECT_EQ(Hex(XorPasswordWithNonce(mixed, FromHex(row.nonce))), row.password_nul);
  }
}

TEST(AuthCachingSha2Test, VerifyStoredMatchesMySql) {
  struct Row {
    std::string_view name;
    std::string stored;
    std::string_view password;
  };
  const Row rows[] = {
      // MySQL 8.0 Reference Manual, "SHOW CREATE USER Statement": CREATE USER 'u1'@'localhost'
      // IDENTIFIED BY 'secret', then SHOW CREATE USER with print_identified_with_as_hex = ON.
      {"MySQL manual",
       HexToString("244124303035240C7745603626313D613C4C10633E0A104B1E14135A544A"
                   "7871567245614F4872344643546336546F624F6C786132693275"
                   "2F45622F4F473273597557627139"),
       "secret"},
      // TiDB's pkg/parser/auth/caching_sha2_test.go (foobarPwdSHA2Hash), a MySQL-made hash.
      {"TiDB test suite",
       HexToString("24412430303524031A69251C34295C4B35167C7F1E5A7B630913495039"
                   "74624D34504B5A424679354856336868686F52485A736E4A73336878"
                   "6E427575516C73446469496537"),
       "foobar"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto right = VerifyCachingSha2Stored(row.password, row.stored);
    ASSERT_TRUE(right.ok()) << right.error().message;
    EXPECT_TRUE(*right);
    auto wrong = VerifyCachingSha2Stored(std::string(row.password) + "x", row.stored);
    ASSERT_TRUE(wrong.ok()) << wrong.error().message;
    EXPECT_FALSE(*wrong);
    // The salt is the 20 bytes after "$A$005$".
    EXPECT_EQ(FormatCachingSha2Stored(row.password, row.stored.substr(7, 20)), row.stored);
  }
}

TEST(AuthCachingSha2Test, FormatStoredMatchesIndependentImplementation) {
  struct Row {
    std::string name;
    std::string password;
    std::string_view salt;
    int thousands;
    std::string_view stored;
  };
  // A separate Python re-implementation of Drepper's algorithm (itself checked against glibc's
  // crypt and against the two MySQL-made hashes above), formatted as MySQL does.
  const Row rows[] = {
      {"default", "secret", "abcdefghij0123456789", 5,
       "$A$005$abcdefghij0123456789Zu4RPJ/GZ6uhS5PeIiP5RI.gbHZR3DWR3exeD3zy4sD"},
      {"UTF-8", "p\xc3\xa4ssw\xc3\xb6rd", "ABCDEFGHIJabcdefghij", 5,
       "$A$005$ABCDEFGHIJabcdefghijOorf2xsSFWF.kJmvsBnGOLg.kNk9/p/HBLCjMEsZc2D"},
      {"hex iteration count", std::string(100, 'x'), "01234567890123456789", 10,
       "$A$00A$01234567890123456789QQF7M0hbCWXdqV9etN/wAYrPiXmq.tKEptnj/gWS9tD"},
      {"punctuation salt", "a", "./,;:<>?[]{}|~!@#%^&", 1,
       "$A$001$./,;:<>?[]{}|~!@#%^&/5hMXG8iUIkP9gsFbSNvt5Qn1wGgm7jcKM6hVmsiRn3"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(FormatCachingSha2Stored(row.password, row.salt, row.thousands), row.stored);
    auto verified = VerifyCachingSha2Stored(row.password, row.stored);
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    EXPECT_TRUE(*verified);
  }
}

TEST(AuthCachingSha2Test, EmptyPasswordIsStoredEmpty) {
  EXPECT_EQ(FormatCachingSha2Stored("", "abcdefghij0123456789"), "");
  auto empty = VerifyCachingSha2Stored("", "");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(*empty);
  auto other = VerifyCachingSha2Stored("secret", "");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other);
  auto against_hash = VerifyCachingSha2Stored(
      "", "$A$005$abcdefghij0123456789Zu4RPJ/GZ6uhS5PeIiP5RI.gbHZR3DWR3exeD3zy4sD");
  ASSERT_TRUE(against_hash.ok());
  EXPECT_FALSE(*against_hash);
}

TEST(AuthCachingSha2Test, PasswordsLongerThanMySqlAcceptsNeverMatch) {
  const std::string salt = "abcdefghij0123456789";
  const std::string longest(256, 'p');
  auto accepted = VerifyCachingSha2Stored(longest, FormatCachingSha2Stored(longest, salt, 1));
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(*accepted);
  const std::string too_long(257, 'p');
  auto refused = VerifyCachingSha2Stored(too_long, FormatCachingSha2Stored(too_long, salt, 1));
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(*refused);
}

TEST(AuthCachingSha2Test, VerifyStoredExplainsMalformedForms) {
  const std::string good = "$A$005$abcdefghij0123456789Zu4RPJ/GZ6uhS5PeIiP5RI.gbHZR3DWR3exeD3zy4sD";
  struct Failure {
    std::string_view name;
    std::string stored;
    std::string_view message_part;
  };
  const Failure failures[] = {
      {"PBKDF2", "$B$" + good.substr(3), "'$B$' (PBKDF2-SHA512) is not supported"},
      {"native password hash", "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4", "start with '$A$'"},
      {"one byte short", good.substr(0, good.size() - 1), "got 69"},
      {"one byte long", good + "A", "got 71"},
      {"not hex", "$A$00G" + good.substr(6), "'00G' is not hex"},
      {"zero", "$A$000" + good.substr(6), "iteration count is 0"},
      {"no '$'", "$A$005x" + good.substr(7), "no '$' after"},
      {"digest character", good.substr(0, 40) + "=" + good.substr(41), "byte 40"},
  };
  for (const Failure& f : failures) {
    SCOPED_TRACE(f.name);
    auto verified = VerifyCachingSha2Stored("secret", f.stored);
    ASSERT_FALSE(verified.ok());
    EXPECT_NE(verified.error().message.find(f.message_part), std::string::npos)
        << verified.error().message;
  }
}

// ---- RSA ----

class AuthRsaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto generated = RsaKeyPair::Generate();
    ASSERT_TRUE(generated.ok()) << generated.error().message;
    pair_ = new RsaKeyPair(std::move(*generated));
  }
  static void TearDownTestSuite() {
    delete pair_;
    pair_ = nullptr;
  }
  static const RsaKeyPair& pair() { return *pair_; }

 private:
  static RsaKeyPair* pair_;
};
RsaKeyPair* AuthRsaTest::pair_ = nullptr;

// The PKCS#1 form ("BEGIN RSA PUBLIC KEY") of a SubjectPublicKeyInfo PEM, made with OpenSSL's
// encoder directly.
std::string ToPkcs1Pem(const std::string& spki_pem) {
  EVP_PKEY* key = nullptr;
  OSSL_DECODER_CTX* decoder = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", nullptr, "RSA",
                                                            EVP_PKEY_PUBLIC_KEY, nullptr, nullptr);
  auto* data = reinterpret_cast<const unsigned char*>(spki_pem.data());
  std::size_t left = spki_pem.size();
  const bool decoded = OSSL_DECODER_from_data(decoder, &data, &left) == 1;
  OSSL_DECODER_CTX_free(decoder);
  if (!decoded) return {};
  OSSL_ENCODER_CTX* encoder =
      OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr);
  unsigned char* out = nullptr;
  std::size_t out_size = 0;
  std::string pem;
  if (OSSL_ENCODER_to_data(encoder, &out, &out_size) == 1) {
    pem.assign(reinterpret_cast<char*>(out), out_size);
  }
  OPENSSL_free(out);
  OSSL_ENCODER_CTX_free(encoder);
  EVP_PKEY_free(key);
  return pem;
}

TEST_F(AuthRsaTest, PublicPemIsSubjectPublicKeyInfo) {
  const std::string& pem = pair().public_pem();
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u) << pem;
  EXPECT_TRUE(pem.ends_with("-----END PUBLIC KEY-----\n")) << pem;
}

TEST_F(AuthRsaTest, EncryptDecryptRoundTrip) {
  const std::string pkcs1 = ToPkcs1Pem(pair().public_pem());
  ASSERT_EQ(pkcs1.rfind("-----BEGIN RSA PUBLIC KEY-----\n", 0), 0u) << pkcs1;
  const std::string nonce = "12345678901234567890";
  const std::string password_nul("secret\0", 7);
  struct Row {
    std::string_view name;
    std::string pem;
    std::vector<std::uint8_t> plain;
  };
  const Row rows[] = {
      {"SubjectPublicKeyInfo", pair().public_pem(),
       XorPasswordWithNonce(Bytes(password_nul), Bytes(nonce))},
      {"PKCS#1", pkcs1, XorPasswordWithNonce(Bytes(password_nul), Bytes(nonce))},
      {"longest that fits (256 - 42 bytes)", pair().public_pem(),
       std::vector<std::uint8_t>(214, 0x5a)},
      {"empty", pair().public_pem(), {}},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    auto ciphertext = RsaEncrypt(row.pem, row.plain);
    ASSERT_TRUE(ciphertext.ok()) << ciphertext.error().message;
    EXPECT_EQ(ciphertext->size(), 256u);
    auto again = RsaEncrypt(row.pem, row.plain);
    ASSERT_TRUE(again.ok());
    EXPECT_NE(*again, *ciphertext) << "OAEP is randomised";
    auto plain = pair().Decrypt(*ciphertext);
    ASSERT_TRUE(plain.ok()) << plain.error().message;
    EXPECT_EQ(*plain, row.plain);
  }
}

TEST_F(AuthRsaTest, EncryptRefuses) {
  struct Failure {
    std::string_view name;
    std::string pem;
    std::vector<std::uint8_t> plain;
    std::string_view message_part;
  };
  const std::string& pem = pair().public_pem();
  const Failure failures[] = {
      {"too long", pem, std::vector<std::uint8_t>(215, 0x5a), "at most 214 bytes"},
      {"not PEM", "hello", {1}, "not an RSA public key"},
      {"truncated PEM", pem.substr(0, pem.size() / 2), {1}, "not an RSA public key"},
      {"empty", "", {1}, "not an RSA public key"},
  };
  for (const Failure& f : failures) {
    SCOPED_TRACE(f.name);
    auto ciphertext = RsaEncrypt(f.pem, f.plain);
    ASSERT_FALSE(ciphertext.ok());
    EXPECT_NE(ciphertext.error().message.find(f.message_part), std::string::npos)
        << ciphertext.error().message;
  }
}

TEST_F(AuthRsaTest, DecryptRefusesWhatThisKeyDidNotEncrypt) {
  const std::vector<std::uint8_t> plain = {1, 2, 3};
  auto ciphertext = RsaEncrypt(pair().public_pem(), plain);
  ASSERT_TRUE(ciphertext.ok()) << ciphertext.error().message;
  auto other_pair = RsaKeyPair::Generate(1024);
  ASSERT_TRUE(other_pair.ok()) << other_pair.error().message;
  auto for_other = RsaEncrypt(other_pair->public_pem(), plain);
  ASSERT_TRUE(for_other.ok());

  std::vector<std::uint8_t> flipped = *ciphertext;
  flipped[100] ^= 0x01;
  struct Case {
    std::string_view name;
    std::vector<std::uint8_t> ciphertext;
  };
  const Case cases[] = {
      {"flipped bit", flipped},
      {"truncated", {ciphertext->begin(), ciphertext->end() - 1}},
      {"empty", {}},
      {"another key's", *for_other},
  };
  for (const Case& c : cases) {
    auto decrypted = pair().Decrypt(c.ciphertext);
    EXPECT_FALSE(decrypted.ok()) << c.name;
  }
}

}  // namespace
}  // namespace longlink::auth
