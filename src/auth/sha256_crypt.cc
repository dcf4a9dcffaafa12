#include "auth/sha256_crypt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cassert>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

namespace longlink::auth {
namespace {

constexpr std::size_t kDigestLength = 32;
using Digest = std::array<std::uint8_t, kDigestLength>;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// One SHA-256 computation fed piece by piece. OpenSSL fails here only when out of memory,
// and a hash with a silently missing piece would be wrong, so failures abort.
class Sha256Builder {
 public:
  Sha256Builder() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) std::abort();
  }
  Sha256Builder& Add(std::span<const std::uint8_t> bytes) {
    if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1) std::abort();
    return *this;
  }
  Sha256Builder& Add(std::string_view text) {
    return Add({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }
  // Returns the digest and starts over.
  Digest Finish() {
    Digest digest;
    if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), nullptr) != 1 ||
        EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) {
      std::abort();
    }
    return digest;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
};

// `length` bytes of `digest` repeated (Drepper's steps 16 and 20: the P and S sequences).
std::string Repeat(const Digest& digest, std::size_t length) {
  std::string out(length, '\0');
  for (std::size_t i = 0; i < length; ++i) out[i] = static_cast<char>(digest[i % kDigestLength]);
  return out;
}

// Steps 1-12: the initial digest A from password, salt and the alternate digest B.
Digest InitialDigest(std::string_view password, std::string_view salt) {
  Sha256Builder builder;
  Digest alternate = builder.Add(password).Add(salt).Add(password).Finish();
  builder.Add(password).Add(salt);
  std::size_t left = password.size();
  for (; left > kDigestLength; left -= kDigestLength) builder.Add(alternate);
  builder.Add(std::span(alternate).first(left));
  // Each bit of the length, lowest first: 1 adds B, 0 adds the password.
  for (std::size_t bits = password.size(); bits > 0; bits >>= 1) {
    if (bits & 1) {
      builder.Add(alternate);
    } else {
      builder.Add(password);
    }
  }
  OPENSSL_cleanse(alternate.data(), alternate.size());
  return builder.Finish();
}

// Steps 13-20: a digest of `times` copies of `text`, stretched to `length` bytes.
std::string RepeatedTextSequence(std::string_view text, std::size_t times, std::size_t length) {
  Sha256Builder builder;
  for (std::size_t i = 0; i < times; ++i) builder.Add(text);
  Digest digest = builder.Finish();
  std::string sequence = Repeat(digest, length);
  OPENSSL_cleanse(digest.data(), digest.size());
  return sequence;
}

// Step 21: the rounds, each mixing the previous digest with P and S.
Digest Rounds(Digest digest, std::string_view p, std::string_view s, unsigned rounds) {
  Sha256Builder builder;
  for (unsigned round = 0; round < rounds; ++round) {
    if (round & 1) {
      builder.Add(p);
    } else {
      builder.Add(digest);
    }
    if (round % 3 != 0) builder.Add(s);
    if (round % 7 != 0) builder.Add(p);
    if (round & 1) {
      builder.Add(digest);
    } else {
      builder.Add(p);
    }
    digest = builder.Finish();
  }
  return digest;
}

// Step 22: crypt's base64 of the digest, three bytes (in Drepper's order) at a time.
std::string EncodeDigest(const Digest& d) {
  static constexpr char kAlphabet[] =
      "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  static constexpr std::array<std::array<std::size_t, 3>, 10> kGroups = {{
      {0, 10, 20},
      {21, 1, 11},
      {12, 22, 2},
      {3, 13, 23},
      {24, 4, 14},
      {15, 25, 5},
      {6, 16, 26},
      {27, 7, 17},
      {18, 28, 8},
      {9, 19, 29},
  }};
  std::string out;
  out.reserve(kSha256CryptDigestLength);
  auto emit = [&out](std::uint32_t word, int characters) {
    for (int i = 0; i < characters; ++i, word >>= 6) out += kAlphabet[word & 0x3f];
  };
  for (const auto& group : kGroups) {
    emit(std::uint32_t{d[group[0]]} << 16 | std::uint32_t{d[group[1]]} << 8 | d[group[2]], 4);
  }
  emit(std::uint32_t{d[31]} << 8 | d[30], 3);
  return out;
}

}  // namespace

std::string Sha256CryptDigest(std::string_view password, std::string_view salt, unsigned rounds) {
  assert(rounds >= 1);
  Digest digest = InitialDigest(password, salt);
  std::string p = RepeatedTextSequence(password, password.size(), password.size());
  std::string s = RepeatedTextSequence(salt, 16 + std::size_t{digest[0]}, salt.size());
  digest = Rounds(digest, p, s, rounds);
  std::string encoded = EncodeDigest(digest);
  OPENSSL_cleanse(digest.data(), digest.size());
  OPENSSL_cleanse(p.data(), p.size());
  OPENSSL_cleanse(s.data(), s.size());
  return encoded;
}

}  // namespace longlink::auth
