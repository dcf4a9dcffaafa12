#include "auth/native_password.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cassert>
#include <cstdlib>
#include <string>

namespace longlink::auth {
namespace {

constexpr std::uint8_t kFirstPrintable = 33;  // '!'
constexpr std::uint8_t kPrintableCount = 94;  // '!' .. '~'

std::span<const std::uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// SHA1(scramble || stage2).
Sha1Digest ScrambleMask(std::span<const std::uint8_t> scramble, const Sha1Digest& stage2) {
  std::vector<std::uint8_t> input(scramble.begin(), scramble.end());
  input.insert(input.end(), stage2.begin(), stage2.end());
  Sha1Digest mask = Sha1(input);
  OPENSSL_cleanse(input.data(), input.size());
  return mask;
}

Sha1Digest Xor(const Sha1Digest& a, std::span<const std::uint8_t> b) {
  assert(b.size() == kSha1Length);
  Sha1Digest out;
  for (std::size_t i = 0; i < kSha1Length; ++i) out[i] = a[i] ^ b[i];
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

Sha1Digest Sha1(std::span<const std::uint8_t> data) {
  Sha1Digest digest;
  SHA1(data.data(), data.size(), digest.data());
  return digest;
}

Sha1Digest Sha1(std::string_view data) { return Sha1(AsBytes(data)); }

Scramble GenerateScramble() {
  Scramble scramble;
  std::size_t filled = 0;
  std::array<std::uint8_t, 64> random;
  while (filled < scramble.size()) {
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
      // No entropy means no safe authentication at all; there is nothing sensible to return.
      std::abort();
    }
    for (std::uint8_t byte : random) {
      // Rejection sampling keeps the 94 printable characters equally likely.
      if (byte >= 2 * kPrintableCount) continue;
      scramble[filled++] = static_cast<std::uint8_t>(kFirstPrintable + byte % kPrintableCount);
      if (filled == scramble.size()) break;
    }
  }
  OPENSSL_cleanse(random.data(), random.size());
  return scramble;
}

std::string FormatNativePasswordHash(const Sha1Digest& stage2) {
  static constexpr char kHexDigits[] = "0123456789ABCDEF";
  std::string text = "*";
  for (std::uint8_t byte : stage2) {
    text += kHexDigits[byte >> 4];
    text += kHexDigits[byte & 0x0f];
  }
  return text;
}

Result<Sha1Digest> ParseNativePasswordHash(std::string_view text) {
  const std::string prefix = "mysql_native_password hash: ";
  if (text.empty() || text[0] != '*') {
    return Error{prefix + "must start with '*' (the form PASSWORD() and mysql.user use)"};
  }
  if (text.size() != kNativePasswordHashLength) {
    return Error{prefix + "must be '*' and 40 hex digits, got " + std::to_string(text.size()) +
                 " characters"};
  }
  Sha1Digest stage2;
  for (std::size_t i = 0; i < kSha1Length; ++i) {
    const std::size_t pos = 1 + 2 * i;
    const int high = HexValue(text[pos]);
    const int low = HexValue(text[pos + 1]);
    if (high < 0 || low < 0) {
      const std::size_t bad = high < 0 ? pos : pos + 1;
      return Error{prefix + "'" + std::string(1, text[bad]) + "' at position " +
                   std::to_string(bad) + " is not a hex digit"};
    }
    stage2[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return stage2;
}

bool ConstantTimeEquals(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---- PasswordSecret ----

PasswordSecret PasswordSecret::FromPassword(std::string_view password) {
  if (password.empty()) return PasswordSecret();
  return FromStage1(Sha1(password));
}

PasswordSecret PasswordSecret::FromStage1(const Sha1Digest& stage1) {
  PasswordSecret secret;
  secret.stage1_ = stage1;
  return secret;
}

Sha1Digest PasswordSecret::Stage2() const { return Sha1(*stage1_); }

std::vector<std::uint8_t> PasswordSecret::AuthResponse(
    std::span<const std::uint8_t> scramble) const {
  if (is_empty_password()) return {};
  const Sha1Digest mask = ScrambleMask(scramble, Stage2());
  const Sha1Digest token = Xor(*stage1_, mask);
  return {token.begin(), token.end()};
}

bool operator==(const PasswordSecret& a, const PasswordSecret& b) {
  if (a.is_empty_password() || b.is_empty_password()) {
    return a.is_empty_password() == b.is_empty_password();
  }
  return ConstantTimeEquals(*a.stage1_, *b.stage1_);
}

std::vector<std::uint8_t> ComputeAuthResponse(std::string_view password,
                                              std::span<const std::uint8_t> scramble) {
  return PasswordSecret::FromPassword(password).AuthResponse(scramble);
}

std::optional<Sha1Digest> RecoverStage1(std::span<const std::uint8_t> token,
                                        std::span<const std::uint8_t> scramble,
                                        const Sha1Digest& stage2) {
  if (token.size() != kSha1Length) return std::nullopt;
  const Sha1Digest candidate = Xor(ScrambleMask(scramble, stage2), token);
  if (!ConstantTimeEquals(Sha1(candidate), stage2)) return std::nullopt;
  return candidate;
}

bool VerifyToken(std::span<const std::uint8_t> token, std::span<const std::uint8_t> scramble,
                 const Sha1Digest& stage2) {
  return RecoverStage1(token, scramble, stage2).has_value();
}

// ---- NativePasswordCredential ----

NativePasswordCredential NativePasswordCredential::FromPassword(std::string_view password) {
  NativePasswordCredential credential;
  if (!password.empty()) credential.stage2_ = Sha1(Sha1(password));
  return credential;
}

Result<NativePasswordCredential> NativePasswordCredential::FromHash(std::string_view stored) {
  NativePasswordCredential credential;
  if (stored.empty()) return credential;
  auto stage2 = ParseNativePasswordHash(stored);
  if (!stage2) return stage2.error();
  credential.stage2_ = *stage2;
  return credential;
}

std::string NativePasswordCredential::HashString() const {
  return stage2_ ? FormatNativePasswordHash(*stage2_) : std::string();
}

std::optional<PasswordSecret> NativePasswordCredential::Verify(
    std::span<const std::uint8_t> auth_response, std::span<const std::uint8_t> scramble) const {
  if (is_empty_password()) {
    if (!auth_response.empty()) return std::nullopt;
    return PasswordSecret();
  }
  auto stage1 = RecoverStage1(auth_response, scramble, *stage2_);
  if (!stage1) return std::nullopt;
  return PasswordSecret::FromStage1(*stage1);
}

}  // namespace longlink::auth
