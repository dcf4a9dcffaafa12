// MySQL's caching_sha2_password (and the RSA exchange it shares with sha256_password).
//
//   fast path   token = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || nonce)   (32 bytes)
//               the server answers 0x01 0x03 (fast auth OK) or 0x01 0x04 (send the password)
//   full auth   over TLS or a Unix socket: pw + NUL in clear
//               otherwise: 0x02 asks for the server's RSA public key (PEM, in a 0x01 packet),
//               then RSA-OAEP(SHA1/MGF1-SHA1)((pw + NUL) XOR nonce repeated)
//   empty password: an empty token, nothing else
//
// The server keeps SHA256(SHA256(pw)) in memory after one full authentication, and stores on
// disk "$A$" + 3-digit iteration count in thousands + "$" + 20-byte salt + 43 characters of
// SHA-256-crypt (Drepper's algorithm, the salt allowed 20 bytes; auth/sha256_crypt.h). The
// count is hexadecimal ("005" is 5,000 rounds, "00A" 10,000; MySQL 8 reads it with base 16),
// and an account without a password stores "" instead. A proxy that learns the
// password by full authentication can check it against that stored form, and answer any
// later fast-path token itself.
//
// Comparisons of secrets are constant-time. Nothing here logs or keeps the password.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace longlink::auth {

inline constexpr std::size_t kSha256Length = 32;

// The one-byte messages of the exchange (after AuthMoreData's 0x01 prefix from the server).
namespace caching_sha2 {
inline constexpr char kRequestPublicKey = 0x02;           // Client: send me your RSA key.
inline constexpr char kFastAuthSuccess = 0x03;            // Server: the token matched.
inline constexpr char kPerformFullAuthentication = 0x04;  // Server: send the password.
}  // namespace caching_sha2
using Sha256Digest = std::array<std::uint8_t, kSha256Length>;

Sha256Digest Sha256(std::span<const std::uint8_t> data);
Sha256Digest Sha256(std::string_view data);

// The fast-path token for `password` and `nonce` (the 20-byte scramble, no trailing NUL);
// empty for the empty password.
std::vector<std::uint8_t> CachingSha2Token(std::string_view password,
                                           std::span<const std::uint8_t> nonce);
// True if `token` is the fast-path token of `password` for `nonce` (constant-time).
bool VerifyCachingSha2Token(std::span<const std::uint8_t> token,
                            std::span<const std::uint8_t> nonce, std::string_view password);

// (password + NUL) XOR nonce, the nonce repeated as needed: what full authentication
// encrypts with RSA. Its own inverse: XorPasswordWithNonce of the result gives pw + NUL back.
std::vector<std::uint8_t> XorPasswordWithNonce(std::span<const std::uint8_t> password_nul,
                                               std::span<const std::uint8_t> nonce);

// Checks `password` against MySQL's stored caching_sha2_password form
// ("$A$005$<20 bytes salt><43 chars>"), in constant time once the digest is computed. "" (no
// password) matches only the empty password. A password longer than 256 bytes never matches
// (MySQL refuses those before hashing). An error if `stored` is neither "" nor of that form
// (among others for MySQL 9's "$B$", PBKDF2-SHA512, which is not supported).
Result<bool> VerifyCachingSha2Stored(std::string_view password, std::string_view stored);
// The stored form of `password` with `salt` and `iterations_thousands` (MySQL's default 5):
// for tests and for tools. "" for the empty password, as MySQL stores it.
// REQUIRES: salt.size() == 20 (MySQL's salts are printable ASCII other than '$'; like MySQL,
// the hash uses the salt only up to a '$' or NUL), 1 <= iterations_thousands <= 0xFFF.
std::string FormatCachingSha2Stored(std::string_view password, std::string_view salt,
                                    int iterations_thousands = 5);

// An RSA key pair for the full-authentication exchange, made at start (2048 bits).
// Const member functions are safe to call from several threads. REQUIRES of every member
// function: the object was not moved from.
class RsaKeyPair {
 public:
  static Result<RsaKeyPair> Generate(int bits = 2048);
  RsaKeyPair(RsaKeyPair&&) noexcept;
  RsaKeyPair& operator=(RsaKeyPair&&) noexcept;
  ~RsaKeyPair();

  // "-----BEGIN PUBLIC KEY-----\n...-----END PUBLIC KEY-----\n" (SubjectPublicKeyInfo PEM),
  // what the server sends after 0x02.
  const std::string& public_pem() const { return public_pem_; }
  // RSA-OAEP (SHA-1, MGF1-SHA-1, as MySQL and its clients use) decryption; an error for a
  // ciphertext that does not decrypt.
  Result<std::vector<std::uint8_t>> Decrypt(std::span<const std::uint8_t> ciphertext) const;

 private:
  struct Key;
  explicit RsaKeyPair(std::unique_ptr<Key> key, std::string public_pem);
  std::unique_ptr<Key> key_;
  std::string public_pem_;
};

// RSA-OAEP (SHA-1) encryption of `plain` with a PEM public key (SubjectPublicKeyInfo or
// PKCS#1 "RSA PUBLIC KEY"), as a client does; an error for a key that does not parse or a
// message too long for it.
Result<std::vector<std::uint8_t>> RsaEncrypt(std::string_view public_pem,
                                             std::span<const std::uint8_t> plain);

}  // namespace longlink::auth
