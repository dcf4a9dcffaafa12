#include "auth/ed25519.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>

namespace longlink::auth {
namespace {

constexpr std::size_t kScalarLength = crypto_core_ed25519_SCALARBYTES;  // 32
constexpr std::size_t kHashLength = crypto_hash_sha512_BYTES;           // 64
using Scalar = std::array<std::uint8_t, kScalarLength>;
using Sha512Digest = std::array<std::uint8_t, kHashLength>;

static_assert(sizeof(Ed25519PublicKey) == crypto_sign_ed25519_PUBLICKEYBYTES);
static_assert(kEd25519SignatureLength == crypto_sign_ed25519_BYTES);

// sodium_init() once for the process; it is itself thread-safe, and a static's initialisation
// is too. It fails only when the system offers no randomness, which nothing here could survive.
void EnsureSodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) std::abort();
}

// The secret key MariaDB derives from a password: az = SHA512(password) (its first half
// clamped into the secret scalar a, its second half the signing prefix).
class ExpandedKey {
 public:
  explicit ExpandedKey(std::string_view password) {
    EnsureSodium();
    crypto_hash_sha512(az_.data(), reinterpret_cast<const unsigned char*>(password.data()),
                       password.size());
    az_[0] &= 248;
    az_[31] &= 63;
    az_[31] |= 64;
  }
  ExpandedKey(const ExpandedKey&) = delete;
  ExpandedKey& operator=(const ExpandedKey&) = delete;
  ~ExpandedKey() { sodium_memzero(az_.data(), az_.size()); }

  // The clamped scalar, as it is (not reduced modulo the group order).
  const std::uint8_t* clamped_scalar() const { return az_.data(); }
  const std::uint8_t* prefix() const { return az_.data() + kScalarLength; }

  // a modulo L, for the scalar arithmetic of signing.
  Scalar ReducedScalar() const {
    std::array<std::uint8_t, 2 * kScalarLength> wide{};
    std::copy_n(az_.begin(), kScalarLength, wide.begin());
    Scalar reduced;
    crypto_core_ed25519_scalar_reduce(reduced.data(), wide.data());
    sodium_memzero(wide.data(), wide.size());
    return reduced;
  }

 private:
  Sha512Digest az_;
};

// scalar * B. libsodium reports -1 only for the identity point (a zero scalar), whose encoding
// it still writes: a valid result for signing's nonce, which is zero with probability 2^-252,
// and impossible for a clamped secret scalar.
Ed25519PublicKey BaseMultiple(const std::uint8_t* scalar) {
  Ed25519PublicKey point;
  (void)crypto_scalarmult_ed25519_base_noclamp(point.data(), scalar);
  return point;
}

// SHA512(parts...) reduced modulo L.
Scalar HashToScalar(std::initializer_list<std::span<const std::uint8_t>> parts) {
  crypto_hash_sha512_state state;
  crypto_hash_sha512_init(&state);
  for (auto part : parts) crypto_hash_sha512_update(&state, part.data(), part.size());
  Sha512Digest digest;
  crypto_hash_sha512_final(&state, digest.data());
  Scalar scalar;
  crypto_core_ed25519_scalar_reduce(scalar.data(), digest.data());
  sodium_memzero(digest.data(), digest.size());
  sodium_memzero(&state, sizeof state);
  return scalar;
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 43 characters carry 258 bits, the last character's low 2 bits beyond the key. MariaDB
// ignores them (an account created USING '...YJZ' logs in like '...YJY'), so they are cleared
// here; libsodium would refuse them.
char WithoutExtraBits(char last) {
  return kBase64Alphabet[kBase64Alphabet.find(last) & ~std::size_t{3}];
}

}  // namespace

Ed25519PublicKey Ed25519PublicKeyOf(std::string_view password) {
  const ExpandedKey key(password);
  return BaseMultiple(key.clamped_scalar());
}

Ed25519Signature Ed25519Sign(std::string_view password, std::span<const std::uint8_t> message) {
  // RFC 8032 5.1.6 with MariaDB's expanded key: r = H(prefix || M), R = rB,
  // S = (r + H(R || A || M) * a) mod L; the signature is R || S.
  const ExpandedKey key(password);
  const Ed25519PublicKey public_key = BaseMultiple(key.clamped_scalar());
  Scalar r = HashToScalar({{key.prefix(), kScalarLength}, message});
  const Ed25519PublicKey big_r = BaseMultiple(r.data());
  const Scalar k = HashToScalar({big_r, public_key, message});
  Scalar a = key.ReducedScalar();
  Scalar ka;
  crypto_core_ed25519_scalar_mul(ka.data(), k.data(), a.data());
  Ed25519Signature signature;
  std::copy(big_r.begin(), big_r.end(), signature.begin());
  crypto_core_ed25519_scalar_add(signature.data() + kScalarLength, r.data(), ka.data());
  sodium_memzero(r.data(), r.size());
  sodium_memzero(a.data(), a.size());
  sodium_memzero(ka.data(), ka.size());
  return signature;
}

bool Ed25519Verify(const Ed25519PublicKey& key, std::span<const std::uint8_t> message,
                   std::span<const std::uint8_t> signature) {
  if (signature.size() != kEd25519SignatureLength) return false;
  EnsureSodium();
  return crypto_sign_ed25519_verify_detached(signature.data(), message.data(), message.size(),
                                             key.data()) == 0;
}

std::string FormatEd25519Stored(const Ed25519PublicKey& key) {
  EnsureSodium();
  constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
  std::string text(sodium_base64_ENCODED_LEN(key.size(), kVariant), '\0');
  sodium_bin2base64(text.data(), text.size(), key.data(), key.size(), kVariant);
  text.resize(kEd25519StoredLength);  // drops the terminating NUL
  return text;
}

Result<Ed25519PublicKey> ParseEd25519Stored(std::string_view stored) {
  const std::string prefix = "ed25519 public key: ";
  if (stored.size() == kEd25519StoredLength + 1 && stored.back() == '=') {
    stored.remove_suffix(1);
  }
  if (stored.size() != kEd25519StoredLength) {
    return Error{prefix + "must be 43 base64 characters, got " + std::to_string(stored.size())};
  }
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (kBase64Alphabet.find(stored[i]) == std::string_view::npos) {
      return Error{prefix + "'" + std::string(1, stored[i]) + "' at position " + std::to_string(i) +
                   " is not a base64 character"};
    }
  }
  std::string text(stored);
  text.back() = WithoutExtraBits(text.back());
  EnsureSodium();
  Ed25519PublicKey key;
  std::size_t decoded = 0;
  if (sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr, &decoded,
                        nullptr, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
      decoded != key.size()) {
    return Error{prefix + "does not decode to 32 bytes"};  // not reached for checked input
  }
  return key;
}

}  // namespace longlink::auth
