#include "protocol/wire.h"

#include <cassert>

namespace longlink::protocol {

std::size_t LenencIntSize(std::uint64_t value) {
  if (value < 251) return 1;
  if (value < (1ULL << 16)) return 3;
  if (value < (1ULL << 24)) return 4;
  return 9;
}

std::optional<std::uint8_t> Reader::Peek() const {
  if (empty()) return std::nullopt;
  return bytes_[pos_];
}

std::optional<std::uint64_t> Reader::ReadFixed(std::size_t width) {
  assert(width >= 1 && width <= 8);
  if (remaining() < width) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= static_cast<std::uint64_t>(bytes_[pos_ + i]) << (8 * i);
  }
  pos_ += width;
  return value;
}

std::optional<std::uint8_t> Reader::ReadU8() {
  if (empty()) return std::nullopt;
  return bytes_[pos_++];
}

std::optional<std::uint16_t> Reader::ReadU16() {
  auto value = ReadFixed(2);
  if (!value) return std::nullopt;
  return static_cast<std::uint16_t>(*value);
}

std::optional<std::uint32_t> Reader::ReadU24() {
  auto value = ReadFixed(3);
  if (!value) return std::nullopt;
  return static_cast<std::uint32_t>(*value);
}

std::optional<std::uint32_t> Reader::ReadU32() {
  auto value = ReadFixed(4);
  if (!value) return std::nullopt;
  return static_cast<std::uint32_t>(*value);
}

std::optional<std::uint64_t> Reader::ReadU64() { return ReadFixed(8); }

std::optional<NullableLenenc> Reader::ReadNullableLenencInt() {
  auto first = Peek();
  if (!first) return std::nullopt;
  std::size_t width = 0;
  switch (*first) {
    case kLenencNull:
      ++pos_;
      return NullableLenenc{.is_null = true, .value = 0};
    case kLenencTwoBytes:
      width = 2;
      break;
    case kLenencThreeBytes:
      width = 3;
      break;
    case kLenencEightBytes:
      width = 8;
      break;
    case 0xff:
      return std::nullopt;
    default:
      ++pos_;
      return NullableLenenc{.is_null = false, .value = *first};
  }
  if (remaining() < 1 + width) return std::nullopt;
  const std::size_t start = pos_;
  ++pos_;
  auto value = ReadFixed(width);
  if (!value) {
    pos_ = start;
    return std::nullopt;
  }
  return NullableLenenc{.is_null = false, .value = *value};
}

std::optional<std::uint64_t> Reader::ReadLenencInt() {
  const std::size_t start = pos_;
  auto value = ReadNullableLenencInt();
  if (!value) return std::nullopt;
  if (value->is_null) {
    pos_ = start;
    return std::nullopt;
  }
  return value->value;
}

std::optional<ByteView> Reader::ReadBytes(std::size_t count) {
  if (remaining() < count) return std::nullopt;
  ByteView view = bytes_.subspan(pos_, count);
  pos_ += count;
  return view;
}

std::optional<std::string_view> Reader::ReadString(std::size_t count) {
  auto bytes = ReadBytes(count);
  if (!bytes) return std::nullopt;
  return AsChars(*bytes);
}

std::optional<std::string_view> Reader::ReadLenencString() {
  const std::size_t start = pos_;
  auto length = ReadLenencInt();
  if (!length) return std::nullopt;
  if (*length > remaining()) {
    pos_ = start;
    return std::nullopt;
  }
  return ReadString(static_cast<std::size_t>(*length));
}

std::optional<std::string_view> Reader::ReadNulString() {
  for (std::size_t i = pos_; i < bytes_.size(); ++i) {
    if (bytes_[i] == 0) {
      std::string_view text = AsChars(bytes_.subspan(pos_, i - pos_));
      pos_ = i + 1;
      return text;
    }
  }
  return std::nullopt;
}

std::string_view Reader::ReadRest() {
  std::string_view text = AsChars(bytes_.subspan(pos_));
  pos_ = bytes_.size();
  return text;
}

bool Reader::Skip(std::size_t count) {
  if (remaining() < count) return false;
  pos_ += count;
  return true;
}

void Writer::WriteFixed(std::uint64_t value, std::size_t width) {
  assert(width >= 1 && width <= 8);
  for (std::size_t i = 0; i < width; ++i) {
    out_->push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
}

void Writer::WriteU8(std::uint8_t value) { out_->push_back(value); }
void Writer::WriteU16(std::uint16_t value) { WriteFixed(value, 2); }
void Writer::WriteU24(std::uint32_t value) {
  assert(value < (1U << 24));
  WriteFixed(value, 3);
}
void Writer::WriteU32(std::uint32_t value) { WriteFixed(value, 4); }
void Writer::WriteU64(std::uint64_t value) { WriteFixed(value, 8); }

void Writer::WriteLenencInt(std::uint64_t value) {
  switch (LenencIntSize(value)) {
    case 1:
      WriteU8(static_cast<std::uint8_t>(value));
      return;
    case 3:
      WriteU8(kLenencTwoBytes);
      WriteFixed(value, 2);
      return;
    case 4:
      WriteU8(kLenencThreeBytes);
      WriteFixed(value, 3);
      return;
    default:
      WriteU8(kLenencEightBytes);
      WriteFixed(value, 8);
      return;
  }
}

void Writer::WriteLenencNull() { WriteU8(kLenencNull); }

void Writer::WriteBytes(ByteView bytes) { out_->insert(out_->end(), bytes.begin(), bytes.end()); }

void Writer::WriteString(std::string_view text) { WriteBytes(AsBytes(text)); }

void Writer::WriteLenencString(std::string_view text) {
  WriteLenencInt(text.size());
  WriteString(text);
}

void Writer::WriteNulString(std::string_view text) {
  assert(text.find('\0') == std::string_view::npos);
  WriteString(text);
  WriteU8(0);
}

void Writer::WriteZeros(std::size_t count) { out_->insert(out_->end(), count, 0); }

Error Truncated(std::string_view message, std::string_view field) {
  std::string text(message);
  text += ": truncated at ";
  text += field;
  return Error{std::move(text)};
}

Error Malformed(std::string_view message, std::string_view detail) {
  std::string text(message);
  text += ": ";
  text += detail;
  return Error{std::move(text)};
}

}  // namespace longlink::protocol
