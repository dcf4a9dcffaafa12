#include "auth/caching_sha2.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <cassert>
#include <utility>

#include "auth/native_password.h"
#include "auth/sha256_crypt.h"

namespace longlink::auth {
namespace {

std::span<const std::uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// ---- the stored form: "$A$" + 3 hex digits + "$" + 20 bytes of salt + 43 characters ----

constexpr std::string_view kStoredPrefix = "$A$";
constexpr std::size_t kIterationDigits = 3;
constexpr std::size_t kSaltLength = 20;
constexpr std::size_t kSaltOffset = kStoredPrefix.size() + kIterationDigits + 1;
constexpr std::size_t kDigestOffset = kSaltOffset + kSaltLength;
constexpr std::size_t kStoredLength = kDigestOffset + kSha256CryptDigestLength;  // 70
constexpr unsigned kIterationMultiplier = 1000;
constexpr int kMaxIterationsThousands = 0xfff;
// MySQL refuses longer passwords outright (CACHING_SHA2_PASSWORD_MAX_PASSWORD_LENGTH =
// MAX_PLAINTEXT_LENGTH), which also bounds SHA-256-crypt's quadratic cost in the length.
constexpr std::size_t kMaxPasswordLength = 256;

struct StoredForm {
  unsigned rounds;
  std::string_view salt;
  std::string_view digest;
};

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsCryptBase64(char c) {
  return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z');
}

// The salt my_crypt_genhash uses: the stored 20 bytes up to a '$' or NUL (which MySQL's salts
// never contain, so in practice all 20).
std::string_view EffectiveSalt(std::string_view salt) {
  return salt.substr(0, salt.find_first_of(std::string_view("$\0", 2)));
}

std::string IterationDigits(int thousands) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out(kIterationDigits, '0');
  for (std::size_t i = kIterationDigits; i-- > 0; thousands >>= 4)
    out[i] = kDigits[thousands & 0xf];
  return out;
}

Result<unsigned> ParseIterations(std::string_view digits) {
  unsigned thousands = 0;
  for (char c : digits) {
    const int value = HexDigitValue(c);
    if (value < 0) return Error{"the iteration count '" + std::string(digits) + "' is not hex"};
    thousands = thousands * 16 + static_cast<unsigned>(value);
  }
  if (thousands == 0) return Error{"the iteration count is 0"};
  return thousands * kIterationMultiplier;
}

Result<StoredForm> ParseStored(std::string_view stored) {
  const std::string prefix = "caching_sha2_password hash: ";
  if (stored.substr(0, 3) == "$B$") {
    return Error{prefix + "'$B$' (PBKDF2-SHA512) is not supported, only '$A$' (SHA-256-crypt)"};
  }
  if (stored.substr(0, kStoredPrefix.size()) != kStoredPrefix) {
    return Error{prefix + "must start with '$A$'"};
  }
  if (stored.size() != kStoredLength) {
    return Error{prefix + "must be " + std::to_string(kStoredLength) + " bytes, got " +
                 std::to_string(stored.size())};
  }
  if (stored[kSaltOffset - 1] != '$') {
    return Error{prefix + "no '$' after the 3-digit iteration count"};
  }
  auto rounds = ParseIterations(stored.substr(kStoredPrefix.size(), kIterationDigits));
  if (!rounds) return Error{prefix + rounds.error().message};
  const std::string_view digest = stored.substr(kDigestOffset);
  for (std::size_t i = 0; i < digest.size(); ++i) {
    if (!IsCryptBase64(digest[i])) {
      return Error{prefix + "byte " + std::to_string(kDigestOffset + i) +
                   " of the digest is not a crypt base64 character"};
    }
  }
  return StoredForm{*rounds, stored.substr(kSaltOffset, kSaltLength), digest};
}

// ---- the fast path ----

// SHA256(SHA256(SHA256(pw)) || nonce), given SHA256(pw).
Sha256Digest TokenMask(const Sha256Digest& stage1, std::span<const std::uint8_t> nonce) {
  Sha256Digest stage2 = Sha256(stage1);
  std::vector<std::uint8_t> input(stage2.begin(), stage2.end());
  input.insert(input.end(), nonce.begin(), nonce.end());
  const Sha256Digest mask = Sha256(input);
  OPENSSL_cleanse(input.data(), input.size());
  OPENSSL_cleanse(stage2.data(), stage2.size());
  return mask;
}

// ---- RSA ----

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct DecoderCtxFree {
  void operator()(OSSL_DECODER_CTX* ctx) const { OSSL_DECODER_CTX_free(ctx); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// OpenSSL's reason for the last failure (and an empty error queue after it), for messages.
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "no reason given by OpenSSL";
}

// Sets RSA-OAEP with SHA-1 for both the label hash and MGF1, as MySQL's RSA_PKCS1_OAEP_PADDING.
bool SetOaepSha1(EVP_PKEY_CTX* ctx) {
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) > 0;
}

// The largest message RSA-OAEP-SHA1 fits in a key of `key_bytes` (k - 2*hLen - 2).
std::size_t MaxOaepSha1Message(std::size_t key_bytes) {
  constexpr std::size_t kOverhead = 2 * SHA_DIGEST_LENGTH + 2;
  return key_bytes > kOverhead ? key_bytes - kOverhead : 0;
}

Result<std::string> PublicKeyPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return Error{"cannot write the RSA public key as PEM: " + OpenSslReason()};
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// Decodes an RSA public key from PEM: SubjectPublicKeyInfo ("PUBLIC KEY") or PKCS#1
// ("RSA PUBLIC KEY").
Result<PkeyPtr> ReadRsaPublicKey(std::string_view pem) {
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<OSSL_DECODER_CTX, DecoderCtxFree> decoder(OSSL_DECODER_CTX_new_for_pkey(
      &raw, "PEM", nullptr, "RSA", EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
  if (!decoder) return Error{"cannot set up an RSA key decoder: " + OpenSslReason()};
  auto* data = reinterpret_cast<const unsigned char*>(pem.data());
  std::size_t left = pem.size();
  if (OSSL_DECODER_from_data(decoder.get(), &data, &left) != 1 || raw == nullptr) {
    ERR_clear_error();
    return Error{"not an RSA public key in PEM (\"BEGIN PUBLIC KEY\" or \"BEGIN RSA PUBLIC KEY\")"};
  }
  return PkeyPtr(raw);
}

}  // namespace

Sha256Digest Sha256(std::span<const std::uint8_t> data) {
  Sha256Digest digest;
  SHA256(data.data(), data.size(), digest.data());
  return digest;
}

Sha256Digest Sha256(std::string_view data) { return Sha256(AsBytes(data)); }

std::vector<std::uint8_t> CachingSha2Token(std::string_view password,
                                           std::span<const std::uint8_t> nonce) {
  if (password.empty()) return {};
  Sha256Digest stage1 = Sha256(password);
  const Sha256Digest mask = TokenMask(stage1, nonce);
  std::vector<std::uint8_t> token(kSha256Length);
  for (std::size_t i = 0; i < kSha256Length; ++i) token[i] = stage1[i] ^ mask[i];
  OPENSSL_cleanse(stage1.data(), stage1.size());
  return token;
}

bool VerifyCachingSha2Token(std::span<const std::uint8_t> token,
                            std::span<const std::uint8_t> nonce, std::string_view password) {
  if (password.empty()) return token.empty();
  std::vector<std::uint8_t> expected = CachingSha2Token(password, nonce);
  const bool equal = ConstantTimeEquals(token, expected);
  OPENSSL_cleanse(expected.data(), expected.size());
  return equal;
}

std::vector<std::uint8_t> XorPasswordWithNonce(std::span<const std::uint8_t> password_nul,
                                               std::span<const std::uint8_t> nonce) {
  std::vector<std::uint8_t> out(password_nul.begin(), password_nul.end());
  if (nonce.empty()) return out;
  for (std::size_t i = 0; i < out.size(); ++i) out[i] ^= nonce[i % nonce.size()];
  return out;
}

Result<bool> VerifyCachingSha2Stored(std::string_view password, std::string_view stored) {
  if (stored.empty()) return password.empty();
  auto form = ParseStored(stored);
  if (!form) return form.error();
  if (password.size() > kMaxPasswordLength) return false;
  std::string digest = Sha256CryptDigest(password, EffectiveSalt(form->salt), form->rounds);
  const bool equal = ConstantTimeEquals(AsBytes(digest), AsBytes(form->digest));
  OPENSSL_cleanse(digest.data(), digest.size());
  return equal;
}

std::string FormatCachingSha2Stored(std::string_view password, std::string_view salt,
                                    int iterations_thousands) {
  assert(salt.size() == kSaltLength);
  assert(iterations_thousands >= 1 && iterations_thousands <= kMaxIterationsThousands);
  if (password.empty()) return {};
  const unsigned rounds = static_cast<unsigned>(iterations_thousands) * kIterationMultiplier;
  return std::string(kStoredPrefix) + IterationDigits(iterations_thousands) + "$" +
         std::string(salt) + Sha256CryptDigest(password, EffectiveSalt(salt), rounds);
}

// ---- RsaKeyPair ----

struct RsaKeyPair::Key {
  PkeyPtr pkey;
};

RsaKeyPair::RsaKeyPair(std::unique_ptr<Key> key, std::string public_pem)
    : key_(std::move(key)), public_pem_(std::move(public_pem)) {}
RsaKeyPair::RsaKeyPair(RsaKeyPair&&) noexcept = default;
RsaKeyPair& RsaKeyPair::operator=(RsaKeyPair&&) noexcept = default;
RsaKeyPair::~RsaKeyPair() = default;

Result<RsaKeyPair> RsaKeyPair::Generate(int bits) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) <= 0 ||
      EVP_PKEY_generate(ctx.get(), &raw) <= 0) {
    return Error{"cannot generate a " + std::to_string(bits) + "-bit RSA key: " + OpenSslReason()};
  }
  auto key = std::make_unique<Key>(Key{PkeyPtr(raw)});
  auto pem = PublicKeyPem(key->pkey.get());
  if (!pem) return pem.error();
  return RsaKeyPair(std::move(key), std::move(*pem));
}

Result<std::vector<std::uint8_t>> RsaKeyPair::Decrypt(
    std::span<const std::uint8_t> ciphertext) const {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_->pkey.get(), nullptr));
  std::size_t size = 0;
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) <= 0 || !SetOaepSha1(ctx.get()) ||
      EVP_PKEY_decrypt(ctx.get(), nullptr, &size, ciphertext.data(), ciphertext.size()) <= 0) {
    return Error{"cannot set up RSA-OAEP decryption: " + OpenSslReason()};
  }
  std::vector<std::uint8_t> plain(size);
  if (EVP_PKEY_decrypt(ctx.get(), plain.data(), &size, ciphertext.data(), ciphertext.size()) <= 0) {
    OPENSSL_cleanse(plain.data(), plain.size());
    ERR_clear_error();
    return Error{"the RSA-OAEP ciphertext (" + std::to_string(ciphertext.size()) +
                 " bytes) does not decrypt with this key"};
  }
  plain.resize(size);
  return plain;
}

Result<std::vector<std::uint8_t>> RsaEncrypt(std::string_view public_pem,
                                             std::span<const std::uint8_t> plain) {
  auto key = ReadRsaPublicKey(public_pem);
  if (!key) return key.error();
  const auto key_bytes = static_cast<std::size_t>(EVP_PKEY_get_size(key->get()));
  if (plain.size() > MaxOaepSha1Message(key_bytes)) {
    return Error{"a " + std::to_string(plain.size()) + "-byte message is too long for RSA-OAEP " +
                 "with a " + std::to_string(key_bytes * 8) + "-bit key (at most " +
                 std::to_string(MaxOaepSha1Message(key_bytes)) + " bytes)"};
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
  std::size_t size = 0;
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 || !SetOaepSha1(ctx.get()) ||
      EVP_PKEY_encrypt(ctx.get(), nullptr, &size, plain.data(), plain.size()) <= 0) {
    return Error{"cannot set up RSA-OAEP encryption: " + OpenSslReason()};
  }
  std::vector<std::uint8_t> ciphertext(size);
  if (EVP_PKEY_encrypt(ctx.get(), ciphertext.data(), &size, plain.data(), plain.size()) <= 0) {
    return Error{"RSA-OAEP encryption failed: " + OpenSslReason()};
  }
  ciphertext.resize(size);
  return ciphertext;
}

}  // namespace longlink::auth
