// mysql_native_password, for a proxy that authenticates clients itself and logs in to backends
// on their behalf.
//
//   stage1 = SHA1(password)          what a client proves it knows
//   stage2 = SHA1(stage1)            what the server stores, as "*" + 40 uppercase hex digits
//   token  = stage1 XOR SHA1(scramble || stage2)      the client's auth response
//
// Verifying a token needs only stage2: cand = token XOR SHA1(scramble || stage2) must satisfy
// SHA1(cand) == stage2, and then cand is stage1. So a proxy that stores only the hash still
// learns SHA1(password) from each successful login and can answer any backend scramble with
// it (the technique ProxySQL documents). The empty password is special: its stored hash is ""
// and its auth response is empty.
//
// Comparisons of secrets are constant-time. Nothing here logs or keeps the plaintext.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace longlink::auth {

inline constexpr std::size_t kScrambleLength = 20;
inline constexpr std::size_t kSha1Length = 20;
// "*" + 40 hex digits.
inline constexpr std::size_t kNativePasswordHashLength = 41;

using Sha1Digest = std::array<std::uint8_t, kSha1Length>;
using Scramble = std::array<std::uint8_t, kScrambleLength>;

Sha1Digest Sha1(std::span<const std::uint8_t> data);
Sha1Digest Sha1(std::string_view data);

// A fresh 20-byte scramble from a cryptographic RNG, every byte printable ASCII 33..126 (no
// NUL, as servers generate them, so it survives NUL-terminated handling in old clients).
Scramble GenerateScramble();

// The stored form "*" + uppercase hex of stage2, e.g. PASSWORD('mypass') =
// "*6C8989366EAF75BB670AD8EA7A7FC1176A95CEF4".
std::string FormatNativePasswordHash(const Sha1Digest& stage2);
// Parses "*" + 40 hex digits (either case) into stage2. Errors say what is wrong (missing '*',
// length, the first non-hex character and its position).
Result<Sha1Digest> ParseNativePasswordHash(std::string_view text);

// Byte-wise comparison whose time does not depend on where the inputs differ.
// Different lengths compare unequal (the length itself is not secret).
bool ConstantTimeEquals(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// SHA1(password): the secret behind a non-empty password, or nothing for the empty password.
// Holding one is enough to log in as the user anywhere that password is valid: treat it like
// the password.
class PasswordSecret {
 public:
  // The empty password.
  PasswordSecret() = default;
  static PasswordSecret FromPassword(std::string_view password);
  static PasswordSecret FromStage1(const Sha1Digest& stage1);

  bool is_empty_password() const { return !stage1_.has_value(); }
  // REQUIRES: !is_empty_password().
  const Sha1Digest& stage1() const { return *stage1_; }
  // SHA1(stage1); REQUIRES: !is_empty_password().
  Sha1Digest Stage2() const;

  // The auth response for `scramble`: stage1 XOR SHA1(scramble || SHA1(stage1)), or empty for
  // the empty password. `scramble` is the server's nonce without a trailing NUL (20 bytes).
  std::vector<std::uint8_t> AuthResponse(std::span<const std::uint8_t> scramble) const;

  friend bool operator==(const PasswordSecret& a, const PasswordSecret& b);

 private:
  std::optional<Sha1Digest> stage1_;
};

// The client side: the auth response for `password` and `scramble`.
std::vector<std::uint8_t> ComputeAuthResponse(std::string_view password,
                                              std::span<const std::uint8_t> scramble);

// The server side with stage2 only: checks a non-empty token and returns stage1 on success.
// nullopt if the token is not 20 bytes or does not match.
std::optional<Sha1Digest> RecoverStage1(std::span<const std::uint8_t> token,
                                        std::span<const std::uint8_t> scramble,
                                        const Sha1Digest& stage2);
// The plain server-side check: true if `token` proves knowledge of the password behind stage2.
bool VerifyToken(std::span<const std::uint8_t> token, std::span<const std::uint8_t> scramble,
                 const Sha1Digest& stage2);

// A user's password as configured at the proxy: plaintext, or the stored hash.
class NativePasswordCredential {
 public:
  // From plaintext ("" is the empty password).
  static NativePasswordCredential FromPassword(std::string_view password);
  // From the stored form: "*" + 40 hex digits, or "" for the empty password.
  static Result<NativePasswordCredential> FromHash(std::string_view stored);

  bool is_empty_password() const { return !stage2_.has_value(); }
  // The stored form: "*HEX" or "" for the empty password.
  std::string HashString() const;

  // Checks a client's auth response to `scramble`. On success returns the secret that logs in
  // to backends (stage1, recovered from the token if only the hash is known). The empty
  // password accepts only an empty response; a non-empty password never accepts one.
  std::optional<PasswordSecret> Verify(std::span<const std::uint8_t> auth_response,
                                       std::span<const std::uint8_t> scramble) const;

 private:
  std::optional<Sha1Digest> stage2_;
};

}  // namespace longlink::auth
