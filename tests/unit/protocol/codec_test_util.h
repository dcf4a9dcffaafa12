// Helpers for table-driven codec tests: hex literals, and the two checks every message gets:
// a round trip ({name, value, caps, bytes}: Encode(value) == bytes and Decode(bytes) == value)
// and truncation (every strict prefix of the bytes decodes to an error or to a value that is
// itself consistent, never a crash or a half-filled value).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

#include "common/result.h"
#include "protocol/constants.h"
#include "protocol/wire.h"

namespace longlink::protocol::testing {

// "0a 35 2e" or "0a352e" -> bytes. Whitespace and '|' are ignored.
inline Bytes Hex(std::string_view text) {
  Bytes out = {};
  int high = -1;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '|') continue;
    int value = std::isdigit(static_cast<unsigned char>(c))
                    ? c - '0'
                    : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    EXPECT_TRUE(value >= 0 && value < 16) << "bad hex digit " << c;
    if (high < 0) {
      high = value;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | value));
      high = -1;
    }
  }
  EXPECT_EQ(high, -1) << "odd number of hex digits";
  return out;
}

inline std::string ToHex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = {};
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out += ' ';
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

inline Bytes Concat(std::initializer_list<ByteView> parts) {
  Bytes out = {};
  for (ByteView part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

inline Bytes Str(std::string_view text) {
  ByteView view = AsBytes(text);
  return Bytes(view.begin(), view.end());
}

// One round-trip row.
template <typename Message>
struct CodecRow {
  std::string name = {};
  Message value = {};
  Capabilities caps = 0;
  Bytes bytes = {};
  // Prefixes shorter than this must fail to decode; longer ones may decode (to a valid, shorter
  // message) when the layout ends in optional or rest-of-packet fields.
  std::size_t shortest_valid = std::numeric_limits<std::size_t>::max();
};

template <typename Message>
using DecodeFn = std::function<Result<Message>(ByteView, Capabilities)>;
template <typename Message>
using EncodeFn = std::function<Bytes(const Message&, Capabilities)>;

// Encode(value) == bytes, Decode(bytes) == value, and Decode(Encode(Decode(prefix))) is stable
// for every prefix that decodes.
template <typename Message>
void CheckCodecRows(const std::vector<CodecRow<Message>>& rows, DecodeFn<Message> decode,
                    EncodeFn<Message> encode) {
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(ToHex(encode(row.value, row.caps)), ToHex(row.bytes)) << "encode";
    auto decoded = decode(row.bytes, row.caps);
    ASSERT_TRUE(decoded.ok()) << "decode: " << decoded.error().message;
    EXPECT_TRUE(*decoded == row.value) << "decode gave a different value";

    for (std::size_t length = 0; length < row.bytes.size(); ++length) {
      SCOPED_TRACE("prefix of " + std::to_string(length) + " bytes");
      ByteView prefix = ByteView(row.bytes).subspan(0, length);
      auto partial = decode(prefix, row.caps);
      if (length < row.shortest_valid) {
        EXPECT_FALSE(partial.ok()) << "a truncated packet decoded";
        if (!partial.ok()) {
          EXPECT_FALSE(partial.error().message.empty());
        }
        continue;
      }
      if (!partial.ok()) continue;
      // A shorter valid message: it must be self-consistent.
      Bytes again = encode(*partial, row.caps);
      auto redecoded = decode(again, row.caps);
      ASSERT_TRUE(redecoded.ok()) << redecoded.error().message;
      EXPECT_TRUE(*redecoded == *partial);
    }
  }
}

// A failure row: bytes that must not decode, and a fragment of the expected message.
struct FailureRow {
  std::string name = {};
  Capabilities caps = 0;
  Bytes bytes = {};
  std::string message_fragment = {};
};

template <typename Message>
void CheckFailureRows(const std::vector<FailureRow>& rows, DecodeFn<Message> decode) {
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    auto decoded = decode(row.bytes, row.caps);
    ASSERT_FALSE(decoded.ok()) << "decoded unexpectedly";
    EXPECT_NE(decoded.error().message.find(row.message_fragment), std::string::npos)
        << decoded.error().message;
  }
}

// Adapters for messages whose codec takes no capabilities.
template <typename Message>
DecodeFn<Message> IgnoringCaps(Result<Message> (*decode)(ByteView)) {
  return [decode](ByteView bytes, Capabilities) { return decode(bytes); };
}
template <typename Message>
EncodeFn<Message> IgnoringCaps(Bytes (*encode)(const Message&)) {
  return [encode](const Message& message, Capabilities) { return encode(message); };
}

}  // namespace longlink::protocol::testing
