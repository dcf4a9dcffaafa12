#include "proxy/prepared_kill.h"

#include <bit>
#include <cstdio>

#include "proxy/sql_words.h"

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

namespace {

using sql::IsAsciiWordByte;
using sql::IsSpace;
using sql::Lower;

// A little lexer for the statements above: words, quoted identifiers, literals, @variables.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  void SkipBlanks() {
    for (;;) {
      while (pos_ < text_.size() && IsSpace(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      }
      if (text_.substr(pos_, 2) == "/*" && text_.substr(pos_, 3) != "/*!" &&
          text_.substr(pos_, 4) != "/*M!") {
        const auto end = text_.find("*/", pos_ + 2);
        pos_ = end == std::string_view::npos ? text_.size() : end + 2;
        continue;
      }
      return;
    }
  }
  // The next word (letters, digits, '_', '$'), lowercased; empty if none.
  std::string Word() {
    SkipBlanks();
    std::string word;
    while (pos_ < text_.size() && IsAsciiWordByte(static_cast<unsigned char>(text_[pos_]))) {
      word += Lower(static_cast<unsigned char>(text_[pos_]));
      ++pos_;
    }
    return word;
  }
  // A name: a word or a `quoted` identifier, lowercased.
  std::optional<std::string> Name() {
    SkipBlanks();
    if (pos_ < text_.size() && text_[pos_] == '`') {
      std::string name;
      for (++pos_; pos_ < text_.size(); ++pos_) {
        if (text_[pos_] == '`') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '`') {
            name += '`';
            ++pos_;
            continue;
          }
          ++pos_;
          for (char& c : name) c = Lower(static_cast<unsigned char>(c));
          return name;
        }
        name += text_[pos_];
      }
      return std::nullopt;
    }
    std::string word = Word();
    if (word.empty()) return std::nullopt;
    return word;
  }
  // A '...' or "..." literal, unescaped; nullopt if there is none here.
  std::optional<std::string> Literal() {
    SkipBlanks();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return std::nullopt;
    const char quote = text_[pos_++];
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '\\' && pos_ < text_.size()) {
        const char next = text_[pos_++];
        out += next == 'n' ? '\n' : next == 't' ? '\t' : next == '0' ? '\0' : next;
        continue;
      }
      if (c == quote) {
        if (pos_ < text_.size() && text_[pos_] == quote) {
          out += quote;
          ++pos_;
          continue;
        }
        return out;
      }
      out += c;
    }
    return std::nullopt;
  }
  // An @variable (with its '@'), as written; nullopt if there is none here.
  std::optional<std::string> Variable() {
    SkipBlanks();
    if (pos_ >= text_.size() || text_[pos_] != '@' ||
        (pos_ + 1 < text_.size() && text_[pos_ + 1] == '@')) {
      return std::nullopt;
    }
    const std::size_t start = pos_++;
    if (pos_ < text_.size() && (text_[pos_] == '`' || text_[pos_] == '\'' || text_[pos_] == '"')) {
      const char quote = text_[pos_++];
      while (pos_ < text_.size() && text_[pos_] != quote) ++pos_;
      if (pos_ >= text_.size()) return std::nullopt;
      ++pos_;
    } else {
      while (pos_ < text_.size() &&
             (IsAsciiWordByte(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.')) {
        ++pos_;
      }
    }
    return std::string(text_.substr(start, pos_ - start));
  }
  bool Consume(char c) {
    SkipBlanks();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  // Nothing but blanks, comments and one ';' left.
  bool AtEnd() {
    Consume(';');
    SkipBlanks();
    return pos_ == text_.size();
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<SqlPrepareStatement> ParseSqlPrepareStatement(std::string_view text) {
  using Kind = SqlPrepareStatement::Kind;
  Lexer lexer(text);
  SqlPrepareStatement statement;
  const std::string first = lexer.Word();
  if (first == "prepare") {
    statement.kind = Kind::kPrepare;
    auto name = lexer.Name();
    if (!name || lexer.Word() != "from") return std::nullopt;
    statement.name = std::move(*name);
    statement.text = lexer.Literal();
    if (!statement.text && !lexer.Variable()) return std::nullopt;
  } else if (first == "execute") {
    statement.kind = Kind::kExecute;
    auto name = lexer.Name();
    if (!name) return std::nullopt;
    statement.name = std::move(*name);
    Lexer after = lexer;
    if (after.Word() == "using") {
      lexer = after;
      do {
        auto variable = lexer.Variable();
        if (!variable) return std::nullopt;
        statement.using_variables.push_back(std::move(*variable));
      } while (lexer.Consume(','));
    }
  } else if (first == "deallocate" || first == "drop") {
    statement.kind = Kind::kDeallocate;
    if (lexer.Word() != "prepare") return std::nullopt;
    auto name = lexer.Name();
    if (!name) return std::nullopt;
    statement.name = std::move(*name);
  } else {
    return std::nullopt;
  }
  if (!lexer.AtEnd()) return std::nullopt;
  return statement;
}

}  // namespace longlink::proxy
