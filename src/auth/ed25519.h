// MariaDB's ed25519 authentication (server plugin `ed25519`, client plugin `client_ed25519`).
//
// The server stores only the public key, as 43 characters of base64 without padding, in the
// account's authentication_string. At login it sends a 32-byte nonce; the client answers with
// a 64-byte Ed25519 signature of the nonce. MariaDB derives the key pair from the password of
// any length the way ref10's crypto_sign_keypair does from a seed: az = SHA512(password),
// clamp az[0..32] into the secret scalar a, A = a*B; signing follows RFC 8032 with az[32..64]
// as the prefix. (So a password of exactly 32 bytes gives the RFC 8032 key of that seed.)
//
// Verification needs only the public key; signing needs the password. A proxy that knows
// only the stored key can check a client but cannot log in to the server as that user.
// Built on libsodium's Ed25519 primitives. Nothing here logs or keeps the password.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace longlink::auth {

inline constexpr std::size_t kEd25519NonceLength = 32;
inline constexpr std::size_t kEd25519SignatureLength = 64;
// Characters of the stored form (base64 of 32 bytes, no '=' padding).
inline constexpr std::size_t kEd25519StoredLength = 43;

using Ed25519PublicKey = std::array<std::uint8_t, 32>;
using Ed25519Signature = std::array<std::uint8_t, kEd25519SignatureLength>;

// The public key MariaDB derives from `password` ("" included).
Ed25519PublicKey Ed25519PublicKeyOf(std::string_view password);
// The signature client_ed25519 sends: `password`'s key signing `message` (the nonce).
Ed25519Signature Ed25519Sign(std::string_view password, std::span<const std::uint8_t> message);
// True if `signature` (any length; not 64 bytes is false) signs `message` under `key`.
// libsodium's checks, stricter than the server's ref10 only for signatures no honest signer
// makes: S must be reduced modulo L, and neither R nor the key may be a point of small order.
bool Ed25519Verify(const Ed25519PublicKey& key, std::span<const std::uint8_t> message,
                   std::span<const std::uint8_t> signature);

// The stored form: base64 of the key, 43 characters, no padding (as mysql.global_priv holds
// it, e.g. "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY" for password "secret"; see the unit
// test for vectors read from MariaDB 10.11).
std::string FormatEd25519Stored(const Ed25519PublicKey& key);
// Parses the stored form (43 base64 characters, or 44 with one '='). Like MariaDB, ignores the
// last character's two bits beyond the 32 bytes. Errors say what is wrong.
Result<Ed25519PublicKey> ParseEd25519Stored(std::string_view stored);

}  // namespace longlink::auth
