// What a client sent to prove it knows its password, and the check of that proof against an
// account's credentials: the decision at the heart of a login at the proxy.
//
// Proofs, by the exchange the proxy ran with the client (proxy/client_login.cc):
//   kNativeToken     mysql_native_password's token for `nonce` (20 bytes)
//   kPassword        the password itself (caching_sha2_password full authentication, over a
//                    Unix socket or RSA-encrypted)
//   kCachingSha2Token caching_sha2_password's fast-path token for `nonce`
//   kEd25519Signature client_ed25519's signature of `nonce` (32 bytes)
//   kInvalid         what no good client sends (a password in clear over TCP, a ciphertext
//                    that does not decrypt): it proves nothing
// The last two can only be checked with the password known beforehand (`known_password`:
// from the config, or from an earlier login of the same account).
//
// A credential is checked only by a proof it can check: a native hash by a token or the
// password; an ed25519 public key by the password, or by a signature when the known password
// is also the key's; a caching_sha2_password stored hash by the password, or by a token when
// the known password matches the stored hash. Credentials are tried in the account's order;
// the first that accepts wins (MariaDB's IDENTIFIED VIA a OR b).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "auth/account.h"
#include "auth/login_secret.h"

namespace longlink::auth {

struct ClientProof {
  enum class Kind { kNativeToken, kPassword, kCachingSha2Token, kEd25519Signature, kInvalid };
  Kind kind = Kind::kNativeToken;
  std::string data = {};   // The token, password or signature.
  std::string nonce = {};  // What the proxy sent (not for kPassword).
};

struct ProofCheck {
  // The secret to log in to backends with, when the proof is good.
  std::optional<LoginSecret> secret = {};
  // The password, when the proof carried it or the known password was confirmed by it: an
  // account whose logins need the password (ed25519, caching_sha2_password) can remember it.
  std::optional<std::string> password = {};
};

// Checks `proof` against `credentials` (in order). `known_password`: the password the proxy
// believes the account has (unconfirmed: it is only used if the account's credential
// accepts it).
ProofCheck CheckProof(const std::vector<AccountCredential>& credentials, const ClientProof& proof,
                      const std::optional<std::string>& known_password);

// True if `password` is accepted by `credential` (a password plugin; false for others).
bool PasswordMatches(const AccountCredential& credential, std::string_view password);

}  // namespace longlink::auth
