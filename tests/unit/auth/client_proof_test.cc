// The check of a client's proof against an account's credentials: every proof kind against
// every credential kind, in the account's order, with and without a known password.
#include "auth/client_proof.h"

#include <gtest/gtest.h>

#include "auth/caching_sha2.h"
#include "auth/ed25519.h"
#include "auth/native_password.h"
#include "auth_test_util.h"

namespace longlink::auth {
namespace {

using testing::Bytes;
using Kind = ClientProof::Kind;

const std::string kNonce20 = "abcdefghijklmnopqrst";
const std::string kNonce32 = "abcdefghijklmnopqrstuvwxyz012345";

AccountCredential NativeOf(std::string_view password) {
  return {.plugin = "mysql_native_password",
          .auth_string = NativePasswordCredential::FromPassword(password).HashString()};
}
AccountCredential Ed25519Of(std::string_view password) {
  return {.plugin = "ed25519", .auth_string = FormatEd25519Stored(Ed25519PublicKeyOf(password))};
}
AccountCredential CachingSha2Of(std::string_view password) {
  return {.plugin = "caching_sha2_password",
          .auth_string = FormatCachingSha2Stored(password, "0123456789abcdefghij")};
}

std::string Str(const std::vector<std::uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

ClientProof NativeToken(std::string_view password) {
  return {Kind::kNativeToken, Str(ComputeAuthResponse(password, Bytes(kNonce20))), kNonce20};
}
ClientProof Password(std::string password) { return {Kind::kPassword, std::move(password), {}}; }
ClientProof Signature(std::string_view password) {
  const Ed25519Signature signature = Ed25519Sign(password, Bytes(kNonce32));
  return {Kind::kEd25519Signature, std::string(signature.begin(), signature.end()), kNonce32};
}
ClientProof Sha2Token(std::string_view password) {
  return {Kind::kCachingSha2Token, Str(CachingSha2Token(password, Bytes(kNonce20))), kNonce20};
}

struct Row {
  const char* name;
  std::vector<AccountCredential> credentials;
  ClientProof proof;
  std::optional<std::string> known;
  bool accepted;
  bool knows_password;  // The secret carries the password (it can answer every plugin).
  std::optional<std::string> remembered;  // ProofCheck::password.
};

TEST(ClientProofTest, EveryProofAgainstEveryCredential) {
  const std::vector<Row> rows = {
      {"native token, native hash", {NativeOf("pw")}, NativeToken("pw"), {}, true, false, {}},
      {"native token, wrong", {NativeOf("pw")}, NativeToken("no"), {}, false, false, {}},
      {"native token, the known password behind it",
       {NativeOf("pw")},
       NativeToken("pw"),
       "pw",
       true,
       true,
       "pw"},
      {"native token, a stale known password",
       {NativeOf("pw")},
       NativeToken("pw"),
       "old",
       true,
       false,
       {}},
      {"empty password: empty token",
       {NativeOf("")},
       {Kind::kNativeToken, "", kNonce20},
       {},
       true,
       true,
       {}},
      {"empty password refuses a token", {NativeOf("")}, NativeToken("x"), {}, false, false, {}},
      {"a password refuses an empty token",
       {NativeOf("pw")},
       {Kind::kNativeToken, "", kNonce20},
       {},
       false,
       false,
       {}},
      {"password, native hash", {NativeOf("pw")}, Password("pw"), {}, true, true, "pw"},
      {"password, ed25519 key", {Ed25519Of("pw")}, Password("pw"), {}, true, true, "pw"},
      {"password, ed25519 key, wrong", {Ed25519Of("pw")}, Password("px"), {}, false, false, {}},
      {"password, caching_sha2 stored",
       {CachingSha2Of("pw")},
       Password("pw"),
       {},
       true,
       true,
       "pw"},
      {"password, caching_sha2 stored, wrong",
       {CachingSha2Of("pw")},
       Password("p"),
       {},
       false,
       false,
       {}},
      {"empty password, ed25519 key of ''", {Ed25519Of("")}, Password(""), {}, true, true, ""},
      {"signature with the known password",
       {Ed25519Of("pw")},
       Signature("pw"),
       "pw",
       true,
       true,
       "pw"},
      {"signature without a known password",
       {Ed25519Of("pw")},
       Signature("pw"),
       {},
       false,
       false,
       {}},
      {"signature, the known password is no longer the key's",
       {Ed25519Of("new")},
       Signature("new"),
       "old",
       false,
       false,
       {}},
      {"signature by another password", {Ed25519Of("pw")}, Signature("px"), "pw", false, false, {}},
      {"caching_sha2 token with the known password",
       {NativeOf("pw")},
       Sha2Token("pw"),
       "pw",
       true,
       true,
       "pw"},
      {"caching_sha2 token, another password",
       {NativeOf("pw")},
       Sha2Token("px"),
       "pw",
       false,
       false,
       {}},
      {"invalid proves nothing, even for the empty password",
       {NativeOf("")},
       {Kind::kInvalid, "", ""},
       "",
       false,
       false,
       {}},
      {"alternatives in order: the second accepts",
       {Ed25519Of("ed"), NativeOf("native")},
       Password("native"),
       {},
       true,
       true,
       "native"},
      {"alternatives: a native token skips the ed25519 credential",
       {Ed25519Of("ed"), NativeOf("native")},
       NativeToken("native"),
       {},
       true,
       false,
       {}},
      {"a plugin longlink cannot check",
       {{.plugin = "unix_socket"}},
       Password(""),
       {},
       false,
       false,
       {}},
  };
  for (const Row& row : rows) {
    const ProofCheck check = CheckProof(row.credentials, row.proof, row.known);
    EXPECT_EQ(check.secret.has_value(), row.accepted) << row.name;
    if (check.secret) {
      EXPECT_EQ(check.secret->knows_password(), row.knows_password) << row.name;
    }
    EXPECT_EQ(check.password, row.remembered) << row.name;
  }
}

TEST(ClientProofTest, ANativeProofYieldsTheSecretThatLogsInToTheServer) {
  const ProofCheck check = CheckProof({NativeOf("pw")}, NativeToken("pw"), std::nullopt);
  ASSERT_TRUE(check.secret);
  // The backend answer for any scramble is the one the password itself gives.
  const std::string scramble = "zyxwvutsrqponmlkjihg";
  EXPECT_EQ(check.secret->NativeResponse(Bytes(scramble)),
            ComputeAuthResponse("pw", Bytes(scramble)));
}

}  // namespace
}  // namespace longlink::auth
