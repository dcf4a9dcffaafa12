// SHA-256-crypt, Ulrich Drepper's "Unix crypt using SHA-256" (the "$5$" of glibc's crypt(3)),
// as MySQL's caching_sha2_password stores passwords (mysys/crypt_genhash_impl.cc).
//
// Only the digest step: no "$5$rounds=N$salt$" string is parsed or made here. MySQL differs
// from glibc only around it: the salt may be 20 bytes (glibc truncates at 16), and the rounds
// come from the stored form's iteration count. The digest is 32 bytes of SHA-256, written as 43
// characters of crypt's own base64 ("./0-9A-Za-z", least significant bits first, its bytes
// taken in Drepper's permuted order).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace longlink::auth {

// Characters of the encoded digest.
inline constexpr std::size_t kSha256CryptDigestLength = 43;

// The 43-character SHA-256-crypt digest of `password` with `salt` (used whole, any length; a
// caller that mimics crypt(3) truncates it first) after `rounds` rounds (REQUIRES: rounds >= 1).
// Costs about rounds * 3 SHA-256 blocks plus O(password.size()^2) bytes hashed once.
std::string Sha256CryptDigest(std::string_view password, std::string_view salt, unsigned rounds);

}  // namespace longlink::auth
