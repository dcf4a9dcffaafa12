#include "proxy/prepared_kill.h"

#include <bit>
#include <cstdio>

namespace longlink::proxy {

namespace {

// Field types (MariaDB's enum_field_types) of values sent in COM_STMT_EXECUTE.
enum : std::uint8_t {
  kDecimal = 0x00,
  kTiny = 0x01,
  kShort = 0x02,
  kLong = 0x03,
  kFloat = 0x04,
  kDouble = 0x05,
  kNull = 0x06,
  kLongLong = 0x08,
  kInt24 = 0x09,
  kYear = 0x0d,
  kVarchar = 0x0f,
  kJson = 0xf5,
  kNewDecimal = 0xf6,
  kEnum = 0xf7,
  kSet = 0xf8,
  kTinyBlob = 0xf9,
  kMediumBlob = 0xfa,
  kLongBlob = 0xfb,
  kBlob = 0xfc,
  kVarString = 0xfd,
  kString = 0xfe,
};

std::string Quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    if (c == '\0') {
      out += "\\0";
      continue;
    }
    out += c;
  }
  out += '\'';
  return out;
}

std::string SignedOrUnsigned(std::uint64_t bits, int width, bool is_unsigned) {
  if (is_unsigned) return std::to_string(bits);
  const int shift = 64 - width * 8;
  const auto value = static_cast<std::int64_t>(bits << shift) >> shift;
  return std::to_string(value);
}

}  // namespace

std::optional<std::uint32_t> StatementIdOf(protocol::ByteView payload) {
  protocol::Reader reader(payload.size() >= 5 ? payload.subspan(1) : protocol::ByteView{});
  return reader.ReadU32();
}

std::optional<std::vector<std::string>> ExecuteParametersAsLiterals(
    protocol::ByteView payload, std::uint16_t count, std::vector<std::uint16_t>* types) {
  if (payload.size() < 10) return std::nullopt;
  protocol::Reader reader(payload.subspan(10));  // Command, id, flags, iteration count.
  std::vector<std::string> literals;
  if (count == 0) return literals;
  auto nulls = reader.ReadBytes((count + 7u) / 8u);
  auto bound = reader.ReadU8();
  if (!nulls || !bound) return std::nullopt;
  if (*bound == 1) {
    types->clear();
    for (std::uint16_t i = 0; i < count; ++i) {
      auto type = reader.ReadU16();
      if (!type) return std::nullopt;
      types->push_back(*type);
    }
  }
  if (types->size() != count) return std::nullopt;  // Never bound.
  for (std::uint16_t i = 0; i < count; ++i) {
    if (((*nulls)[i / 8] >> (i % 8)) & 1) {
      literals.emplace_back("NULL");
      continue;
    }
    const auto type = static_cast<std::uint8_t>((*types)[i] & 0xff);
    const bool is_unsigned = ((*types)[i] & 0x8000) != 0;
    std::optional<std::uint64_t> bits;
    switch (type) {
      case kNull:
        literals.emplace_back("NULL");
        continue;
      case kTiny:
        bits = reader.ReadU8();
        if (!bits) return std::nullopt;
        literals.push_back(SignedOrUnsigned(*bits, 1, is_unsigned));
        continue;
      case kShort:
      case kYear:
        bits = reader.ReadU16();
        if (!bits) return std::nullopt;
        literals.push_back(SignedOrUnsigned(*bits, 2, is_unsigned));
        continue;
      case kLong:
      case kInt24:
        bits = reader.ReadU32();
        if (!bits) return std::nullopt;
        literals.push_back(SignedOrUnsigned(*bits, 4, is_unsigned));
        continue;
      case kLongLong:
        bits = reader.ReadU64();
        if (!bits) return std::nullopt;
        literals.push_back(SignedOrUnsigned(*bits, 8, is_unsigned));
        continue;
      case kFloat:
      case kDouble: {
        char text[40];
        if (type == kFloat) {
          bits = reader.ReadU32();
          if (!bits) return std::nullopt;
          std::snprintf(
              text, sizeof text, "%.9g",
              static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(*bits))));
        } else {
          bits = reader.ReadU64();
          if (!bits) return std::nullopt;
          std::snprintf(text, sizeof text, "%.17g", std::bit_cast<double>(*bits));
        }
        literals.emplace_back(text);
        continue;
      }
      case kDecimal:
      case kNewDecimal:
      case kVarchar:
      case kJson:
      case kEnum:
      case kSet:
      case kTinyBlob:
      case kMediumBlob:
      case kLongBlob:
      case kBlob:
      case kVarString:
      case kString: {
        auto text = reader.ReadLenencString();
        if (!text) return std::nullopt;
        literals.push_back(Quote(*text));
        continue;
      }
      default:
        return std::nullopt;  // Dates and times, or unknown.
    }
  }
  return literals;
}

std::optional<std::string> BindPlaceholders(std::string_view expression,
                                            const std::vector<std::string>& literals) {
  std::string out;
  std::size_t next = 0;
  char quote = 0;
  for (std::size_t i = 0; i < expression.size(); ++i) {
    const char c = expression[i];
    if (quote != 0) {
      out += c;
      if (c == '\\' && quote != '`' && i + 1 < expression.size()) {
        out += expression[++i];
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') quote = c;
    if (c == '?') {
      if (next == literals.size()) return std::nullopt;
      out += "(" + literals[next++] + ")";
      continue;
    }
    out += c;
  }
  if (next != literals.size()) return std::nullopt;
  return out;
}

}  // namespace longlink::proxy
