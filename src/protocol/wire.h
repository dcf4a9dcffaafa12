// Wire primitives of the MySQL protocol: little-endian fixed-width integers, length-encoded
// ("lenenc") integers and strings, NUL-terminated strings, and rest-of-packet strings.
//
// Reader consumes a byte span; every Read* either returns the value and advances, or returns
// nullopt and leaves the position unchanged. It never reads past the end. Decoders build a
// message only after every field was read, so a failed decode never yields a half-filled value.
// Writer appends to a byte vector and always writes the shortest lenenc form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace longlink::protocol {

// An owned packet payload (or any run of protocol bytes).
using Bytes = std::vector<std::uint8_t>;
// A borrowed run of protocol bytes.
using ByteView = std::span<const std::uint8_t>;

// Views between bytes and chars (the protocol's strings are byte strings).
inline ByteView AsBytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
inline std::string_view AsChars(ByteView bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Lenenc first bytes.
inline constexpr std::uint8_t kLenencNull = 0xfb;        // NULL (in text rows only).
inline constexpr std::uint8_t kLenencTwoBytes = 0xfc;    // Followed by int<2>.
inline constexpr std::uint8_t kLenencThreeBytes = 0xfd;  // Followed by int<3>.
inline constexpr std::uint8_t kLenencEightBytes = 0xfe;  // Followed by int<8>.
// 0xff is not a valid lenenc first byte.

// Bytes needed to write `value` as a lenenc integer: 1, 3, 4 or 9.
std::size_t LenencIntSize(std::uint64_t value);

// A lenenc integer that may be NULL (0xFB), as in text result rows.
struct NullableLenenc {
  bool is_null = false;
  std::uint64_t value = 0;  // 0 when is_null.
  friend bool operator==(const NullableLenenc&, const NullableLenenc&) = default;
};

class Reader {
 public:
  // REQUIRES: `bytes` outlives the Reader and every view it returns.
  explicit Reader(ByteView bytes) : bytes_(bytes) {}
  explicit Reader(std::string_view bytes) : bytes_(AsBytes(bytes)) {}
  // A temporary buffer would dangle: keep the bytes in a variable.
  explicit Reader(Bytes&&) = delete;
  explicit Reader(std::string&&) = delete;

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  bool empty() const { return remaining() == 0; }

  // The next byte without consuming it.
  std::optional<std::uint8_t> Peek() const;

  std::optional<std::uint8_t> ReadU8();
  std::optional<std::uint16_t> ReadU16();
  std::optional<std::uint32_t> ReadU24();
  std::optional<std::uint32_t> ReadU32();
  std::optional<std::uint64_t> ReadU64();
  // A little-endian integer of `width` bytes. REQUIRES: 1 <= width <= 8.
  std::optional<std::uint64_t> ReadFixed(std::size_t width);

  // A lenenc integer; fails on NULL (0xFB), on 0xFF, and on truncation.
  std::optional<std::uint64_t> ReadLenencInt();
  // A lenenc integer or NULL; fails on 0xFF and on truncation.
  std::optional<NullableLenenc> ReadNullableLenencInt();

  std::optional<ByteView> ReadBytes(std::size_t count);
  std::optional<std::string_view> ReadString(std::size_t count);
  // A lenenc length followed by that many bytes.
  std::optional<std::string_view> ReadLenencString();
  // Bytes up to a NUL; consumes the NUL. Fails if there is no NUL.
  std::optional<std::string_view> ReadNulString();
  // Everything left (possibly empty).
  std::string_view ReadRest();
  // Skips `count` bytes; false (and no move) if fewer remain.
  bool Skip(std::size_t count);

 private:
  ByteView bytes_;
  std::size_t pos_ = 0;
};

class Writer {
 public:
  // Appends to *out. REQUIRES: out is non-null and outlives the Writer.
  explicit Writer(Bytes* out) : out_(out) {}

  void WriteU8(std::uint8_t value);
  void WriteU16(std::uint16_t value);
  void WriteU24(std::uint32_t value);  // REQUIRES: value < 2^24.
  void WriteU32(std::uint32_t value);
  void WriteU64(std::uint64_t value);
  // REQUIRES: 1 <= width <= 8; the value's high bytes beyond `width` are dropped.
  void WriteFixed(std::uint64_t value, std::size_t width);

  // Shortest lenenc form: 1 byte below 251, else 0xFC/0xFD/0xFE and 2, 3 or 8 bytes.
  void WriteLenencInt(std::uint64_t value);
  void WriteLenencNull();

  void WriteBytes(ByteView bytes);
  void WriteString(std::string_view text);
  void WriteLenencString(std::string_view text);
  // REQUIRES: `text` contains no NUL (it would end the string early when read back).
  void WriteNulString(std::string_view text);
  void WriteZeros(std::size_t count);

 private:
  Bytes* out_;
};

// The codec shape shared by every message type T (the specializations live beside T):
//   Result<T> Decode<T>(payload)        for messages whose layout is fixed by their own bytes;
//   Result<T> Decode<T>(payload, caps)  for messages whose layout depends on capabilities;
//   Bytes Encode(const T&[, caps])      the inverse.
template <typename Message>
Result<Message> Decode(ByteView payload);
template <typename Message>
Result<Message> Decode(ByteView payload, std::uint64_t caps);

// Errors phrased the same way by every decoder: "<message>: truncated at <field>".
Error Truncated(std::string_view message, std::string_view field);
// "<message>: <detail>".
Error Malformed(std::string_view message, std::string_view detail);

}  // namespace longlink::protocol
