// The client side of authentication with a backend, against the packets servers send, laid out
// as the protocol documentation gives them (MySQL 8: "Protocol::AuthSwitchRequest",
// "caching_sha2_password" fast and full authentication, the public key request; MariaDB: the
// client_ed25519 switch with its 32-byte nonce). No MySQL 8 server runs here, so these
// exchanges are checked against those layouts and against the answers the plugins' math gives.
#include "pool/backend_auth.h"

#include <gtest/gtest.h>

#include "auth/caching_sha2.h"
#include "auth/ed25519.h"
#include "auth/native_password.h"

namespace longlink::pool {
namespace {

using protocol::AsBytes;

const std::string kScramble = "0123456789abcdefghij";           // 20 bytes.
const std::string kNonce = "0123456789abcdefghij0123456789ab";  // 32 bytes.

// 0xFE plugin NUL data.
std::string Switch(std::string_view plugin, std::string_view data) {
  return "\xfe" + std::string(plugin) + std::string(1, '\0') + std::string(data);
}
std::string WithNul(std::string text) {
  text.push_back('\0');
  return text;
}
std::string Str(const std::vector<std::uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

std::string Answer(BackendAuth& auth, const std::string& packet) {
  auto answer = auth.Answer(AsBytes(packet));
  EXPECT_TRUE(answer.ok()) << (answer.ok() ? "" : answer.error().message);
  if (!answer.ok() || !answer->has_value()) return "<none>";
  return **answer;
}

TEST(BackendAuthTest, FirstResponseIsMysqlNativePassword) {
  const auth::LoginSecret secret = auth::LoginSecret::FromPassword("pw");
  BackendAuth auth(secret, "app", false);
  EXPECT_EQ(auth.FirstResponse(kScramble),
            Str(auth::ComputeAuthResponse("pw", AsBytes(kScramble))));
  EXPECT_EQ(auth.plugin_name(), "mysql_native_password");
  // The empty password answers with nothing.
  const auth::LoginSecret empty;
  BackendAuth none(empty, "root", false);
  EXPECT_EQ(none.FirstResponse(kScramble), "");
}

TEST(BackendAuthTest, NativeSwitchFromTheHashAlone) {
  // A secret recovered from a client's token (no password): native switches still work.
  const auth::LoginSecret secret =
      auth::LoginSecret::FromNative(auth::PasswordSecret::FromPassword("pw"));
  BackendAuth auth(secret, "app", false);
  EXPECT_EQ(Answer(auth, Switch("mysql_native_password", WithNul(kScramble))),
            Str(auth::ComputeAuthResponse("pw", AsBytes(kScramble))));
}

TEST(BackendAuthTest, CachingSha2FastAuthentication) {
  const auth::LoginSecret secret = auth::LoginSecret::FromPassword("pw");
  BackendAuth auth(secret, "app", false);
  EXPECT_EQ(Answer(auth, Switch("caching_sha2_password", WithNul(kScramble))),
            Str(auth::CachingSha2Token("pw", AsBytes(kScramble))));
  EXPECT_EQ(Answer(auth, std::string("\x01\x03", 2)), "<none>");  // fast_auth_success: OK next.
}

TEST(BackendAuthTest, CachingSha2FullAuthenticationOverASocket) {
  const auth::LoginSecret secret = auth::LoginSecret::FromPassword("pw");
  BackendAuth auth(secret, "app", /*secure_transport=*/true);
  Answer(auth, Switch("caching_sha2_password", WithNul(kScramble)));
  EXPECT_EQ(Answer(auth, std::string("\x01\x04", 2)), WithNul("pw"));
}

TEST(BackendAuthTest, CachingSha2FullAuthenticationWithTheServersRsaKey) {
  auto key = auth::RsaKeyPair::Generate();
  ASSERT_TRUE(key.ok());
  const auth::LoginSecret secret = auth::LoginSecret::FromPassword("a longer password");
  BackendAuth auth(secret, "app", /*secure_transport=*/false);
  Answer(auth, Switch("caching_sha2_password", WithNul(kScramble)));
  EXPECT_EQ(Answer(auth, std::string("\x01\x04", 2)), "\x02");  // Request the public key.
  const std::string encrypted = Answer(auth, "\x01" + key->public_pem());
  auto plain = key->Decrypt(AsBytes(encrypted));
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(Str(auth::XorPasswordWithNonce(*plain, AsBytes(kScramble))),
            WithNul("a longer password"));
  // Nothing more is expected after the password.
  EXPECT_FALSE(auth.Answer(AsBytes(std::string("\x01\x04", 2))).ok());
}

TEST(BackendAuthTest, Ed25519SignsTheNonce) {
  const auth::LoginSecret secret = auth::LoginSecret::FromPassword("secret");
  BackendAuth auth(secret, "app", false);
  const std::string signature = Answer(auth, Switch("client_ed25519", kNonce));
  EXPECT_TRUE(
      auth::Ed25519Verify(auth::Ed25519PublicKeyOf("secret"), AsBytes(kNonce), AsBytes(signature)));
}

TEST(BackendAuthTest, ClearPasswordOnlyOverASocket) {
  const auth::LoginSecret secret = auth::LoginSecret::FromPassword("pw");
  BackendAuth socket(secret, "app", true);
  EXPECT_EQ(Answer(socket, Switch("mysql_clear_password", "")), WithNul("pw"));
  BackendAuth tcp(secret, "app", false);
  auto refused = tcp.Answer(AsBytes(Switch("mysql_clear_password", "")));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("Unix socket"), std::string::npos);
}

TEST(BackendAuthTest, ErrorsNameThePluginAndWhatToDo) {
  const auth::LoginSecret hash_only =
      auth::LoginSecret::FromNative(auth::PasswordSecret::FromPassword("pw"));
  const auth::LoginSecret password = auth::LoginSecret::FromPassword("pw");
  struct Row {
    const char* name;
    const auth::LoginSecret& secret;
    std::string packet;
    std::string error_part;
  };
  const std::vector<Row> rows = {
      {"ed25519 without the password", hash_only, Switch("client_ed25519", kNonce),
       "auth plugin 'client_ed25519' for user 'app', which needs the password itself: list "
       "the user in [[users]] with its password"},
      {"caching_sha2 without the password", hash_only,
       Switch("caching_sha2_password", WithNul(kScramble)), "'caching_sha2_password'"},
      {"a plugin longlink does not speak", password, Switch("auth_gssapi_client", "x"),
       "auth plugin 'auth_gssapi_client' for user 'app', which longlink does not speak"},
      {"the pre-4.1 scramble", password, "\xfe", "pre-4.1"},
      {"a short ed25519 nonce", password, Switch("client_ed25519", "short"), "nonce"},
      {"plugin data before any switch", password, std::string("\x01\x04", 2),
       "unexpected plugin data"},
  };
  for (const Row& row : rows) {
    BackendAuth auth(row.secret, "app", false);
    auth.FirstResponse(kScramble);
    auto answer = auth.Answer(AsBytes(row.packet));
    ASSERT_FALSE(answer.ok()) << row.name;
    EXPECT_NE(answer.error().message.find(row.error_part), std::string::npos)
        << row.name << ": " << answer.error().message;
  }
}

}  // namespace
}  // namespace longlink::pool
