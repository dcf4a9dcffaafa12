#include "auth/client_proof.h"

#include "auth/caching_sha2.h"
#include "auth/ed25519.h"
#include "auth/native_password.h"

namespace longlink::auth {

namespace {

std::span<const std::uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

bool IsNative(const AccountCredential& credential) {
  return credential.plugin.empty() || credential.plugin == server_plugin::kNativePassword;
}

// The proof checked by the password itself: for the client-side plugins whose proof needs the
// password to check (caching_sha2_password's token, client_ed25519's signature).
bool ProvesPassword(const ClientProof& proof, std::string_view password) {
  switch (proof.kind) {
    case ClientProof::Kind::kPassword:
      return ConstantTimeEquals(Bytes(proof.data), Bytes(password));
    case ClientProof::Kind::kCachingSha2Token:
      return VerifyCachingSha2Token(Bytes(proof.data), Bytes(proof.nonce), password);
    case ClientProof::Kind::kEd25519Signature:
      return Ed25519Verify(Ed25519PublicKeyOf(password), Bytes(proof.nonce), Bytes(proof.data));
    case ClientProof::Kind::kNativeToken: {
      const auto expected = ComputeAuthResponse(password, Bytes(proof.nonce));
      return ConstantTimeEquals(Bytes(proof.data), expected);
    }
    case ClientProof::Kind::kInvalid:
      return false;
  }
  return false;
}

ProofCheck WithPassword(std::string password) {
  ProofCheck check;
  check.secret = LoginSecret::FromPassword(password);
  check.password = std::move(password);
  return check;
}

ProofCheck CheckOne(const AccountCredential& credential, const ClientProof& proof,
                    const std::optional<std::string>& known_password) {
  if (proof.kind == ClientProof::Kind::kInvalid) return {};
  if (proof.kind == ClientProof::Kind::kNativeToken && IsNative(credential)) {
    // The stored hash alone checks the token, and yields SHA1(password).
    auto stored = NativePasswordCredential::FromHash(credential.auth_string);
    if (!stored.ok()) return {};
    auto native = stored->Verify(Bytes(proof.data), Bytes(proof.nonce));
    if (!native) return {};
    ProofCheck check;
    check.secret = LoginSecret::FromNative(*native);
    // With the password known and behind this token, keep the password (for other plugins).
    if (known_password && PasswordMatches(credential, *known_password) &&
        ProvesPassword(proof, *known_password)) {
      return WithPassword(*known_password);
    }
    return check;
  }
  if (proof.kind == ClientProof::Kind::kPassword) {
    if (!PasswordMatches(credential, proof.data)) return {};
    return WithPassword(proof.data);
  }
  // A proof only the password can check: the known one, if this credential accepts it.
  if (!known_password || !PasswordMatches(credential, *known_password)) return {};
  if (!ProvesPassword(proof, *known_password)) return {};
  return WithPassword(*known_password);
}

}  // namespace

bool PasswordMatches(const AccountCredential& credential, std::string_view password) {
  if (IsNative(credential)) {
    auto stored = NativePasswordCredential::FromHash(credential.auth_string);
    if (!stored.ok()) return false;
    const NativePasswordCredential given = NativePasswordCredential::FromPassword(password);
    return given.HashString() == stored->HashString();
  }
  if (credential.plugin == server_plugin::kEd25519) {
    auto key = ParseEd25519Stored(credential.auth_string);
    if (!key.ok()) return false;
    const Ed25519PublicKey given = Ed25519PublicKeyOf(password);
    return ConstantTimeEquals(given, *key);
  }
  if (credential.plugin == server_plugin::kCachingSha2Password) {
    if (credential.auth_string.empty()) return password.empty();
    auto matches = VerifyCachingSha2Stored(password, credential.auth_string);
    return matches.ok() && *matches;
  }
  return false;
}

ProofCheck CheckProof(const std::vector<AccountCredential>& credentials, const ClientProof& proof,
                      const std::optional<std::string>& known_password) {
  for (const AccountCredential& credential : credentials) {
    ProofCheck check = CheckOne(credential, proof, known_password);
    if (check.secret) return check;
  }
  return {};
}

}  // namespace longlink::auth
