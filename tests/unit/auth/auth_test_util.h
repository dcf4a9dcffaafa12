// Helpers for the auth tests: bytes of text, and hex both ways for vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace longlink::auth::testing {

inline std::span<const std::uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Lowercase hex of `bytes`.
inline std::string Hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t byte : bytes) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

// The bytes of `hex` (an even number of hex digits, either case; the tests' own literals).
inline std::vector<std::uint8_t> FromHex(std::string_view hex) {
  auto digit = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
  };
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(digit(hex[i]) << 4 | digit(hex[i + 1])));
  }
  return out;
}

// `hex` decoded into a string (for binary passwords, salts and stored forms).
inline std::string HexToString(std::string_view hex) {
  const std::vector<std::uint8_t> bytes = FromHex(hex);
  return {bytes.begin(), bytes.end()};
}

}  // namespace longlink::auth::testing
