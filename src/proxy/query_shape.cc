#include "proxy/query_shape.h"

#include <algorithm>
#include <array>
#include <functional>

#include "proxy/sql_words.h"

namespace longlink::proxy {
namespace {

// Nested groups deeper than this are copied as they are, not collapsed.
constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kNone = std::string::npos;

using sql::FindWord;
using sql::IsCharset;
using sql::IsDigit;
using sql::IsHexDigit;
using sql::IsQuote;
using sql::IsSpace;
using sql::IsWordByte;
using sql::kMaxKeywordBytes;
using sql::Lower;
using sql::Upper;
using sql::WordHash;
using sql::WordKind;

// What the last token written was: decides whether a sign is unary, a `.` qualifies a name,
// a word is a keyword.
enum class Token {
  kStart,      // Nothing yet.
  kOperator,   // Any other punctuation, `;` included.
  kOpen,       // (
  kClose,      // )
  kComma,      // ,
  kDot,        // .
  kKeyword,    // A keyword that is not a value (SELECT, WHERE, AND, ...).
  kName,       // An identifier, quoted or not, a function name, a @variable.
  kValueWord,  // NULL, TRUE, FALSE, CURRENT_DATE, ...
  kLiteral,    // ? (a literal, or a placeholder).
};

// One pass over the statement, writing its shape.
class ShapeWriter {
 public:
  ShapeWriter(std::string_view sql, std::size_t max_bytes, bool truncated_input, std::string* out)
      : in_(sql.substr(0, std::min(sql.size(), max_bytes))),
        max_bytes_(max_bytes),
        cut_(truncated_input || sql.size() > max_bytes),
        out_(*out) {
    out_.clear();
  }

  void Run() {
    while (i_ < in_.size()) {
      const unsigned char c = At(i_);
      if (IsSpace(c)) {
        space_ = true;
        ++i_;
        continue;
      }
      if (Punctuation(c)) continue;
      if (IsDigit(c) || (c == '.' && IsDigit(At(i_ + 1)) && !QualifyingDot())) {
        Number();
      } else if ((c == '-' || c == '+') && SignIsUnary() && SignedNumber()) {
        // Written.
      } else if (IsWordByte(c)) {
        Word();
      } else if (c == '.') {
        ++i_;
        Write(Token::kDot, ".");
      } else {
        Write(Token::kOperator, in_.substr(i_++, 1));
      }
    }
    Finish();
  }

 private:
  // The state of one open group, `(` to `)` (levels_[0]: the statement itself).
  struct Level {
    std::size_t open = 0;         // Offset of the `(` in out_.
    bool values_only = true;      // Nothing but literals and commas in it so far.
    bool has_value = false;       // A literal in it.
    std::size_t sibling = kNone;  // Offset in out_ of the last group closed in this one...
    std::size_t sibling_end = 0;
    bool sibling_comma = false;  // ... and a comma after it, and nothing else.
    bool rows = false;           // That group began a list of rows: after VALUES or `(`.
  };

  unsigned char At(std::size_t i) const {
    return i < in_.size() ? static_cast<unsigned char>(in_[i]) : 0;
  }

  // Comments, quotes, variables, placeholders, groups and commas; false if `c` is none.
  bool Punctuation(unsigned char c) {
    switch (c) {
      case '#':
        SkipLine();
        return true;
      case '-':
        // `--` starts a comment only before whitespace or a control character.
        if (At(i_ + 1) != '-' || (i_ + 2 < in_.size() && At(i_ + 2) > ' ')) return false;
        SkipLine();
        return true;
      case '/':
        if (At(i_ + 1) != '*') return false;
        Comment();
        return true;
      case '*':
        if (!executable_ || At(i_ + 1) != '/') return false;
        executable_ = false;
        i_ += 2;
        space_ = true;
        return true;
      case '\'':
      case '"':
        i_ = QuotedEnd(i_);
        WriteLiteral(true);
        return true;
      case '`':
        QuotedName();
        return true;
      case '@':
        Variable();
        return true;
      case '?':
        ++i_;
        WriteLiteral(false);
        return true;
      case '(':
        ++i_;
        Open();
        return true;
      case ')':
        ++i_;
        Close();
        return true;
      case ',':
        ++i_;
        Write(Token::kComma, ",");
        return true;
      default:
        return false;
    }
  }

  void SkipLine() {
    const std::size_t end = in_.find('\n', i_);
    i_ = end == std::string_view::npos ? in_.size() : end + 1;
    space_ = true;
  }

  // At "/*": a comment, or the start of an executable comment, whose content is read.
  void Comment() {
    space_ = true;
    std::size_t content = 0;
    if (At(i_ + 2) == '!') {
      content = i_ + 3;
    } else if (At(i_ + 2) == 'M' && At(i_ + 3) == '!') {
      content = i_ + 4;
    }
    if (content != 0) {
      // A version number is 5 digits (MySQL's) or 6 (MariaDB's).
      std::size_t digits = 0;
      while (digits < 7 && IsDigit(At(content + digits))) ++digits;
      i_ = content + (digits >= 6 ? 6 : digits == 5 ? 5 : 0);
      executable_ = true;
      return;
    }
    const std::size_t end = in_.find("*/", i_ + 2);
    i_ = end == std::string_view::npos ? in_.size() : end + 2;
  }

  // The end of the quoted text at `start` (its quote doubled or after a backslash is part of
  // it); in_.size() if unterminated.
  std::size_t QuotedEnd(std::size_t start) const {
    const unsigned char quote = At(start);
    std::size_t j = start + 1;
    while (j < in_.size()) {
      const unsigned char c = At(j);
      if (c == '\\' && quote != '`') {
        j += 2;
      } else if (c != quote) {
        ++j;
      } else if (At(j + 1) == quote) {
        j += 2;
      } else {
        return j + 1;
      }
    }
    return in_.size();
  }

  void QuotedName() {
    const std::size_t end = QuotedEnd(i_);
    Write(Token::kName, in_.substr(i_, end - i_));
    i_ = end;
    partial_ = end == in_.size();
  }

  // At '@': a user or system variable (kept), or the host of an account ('u'@'h': a literal).
  void Variable() {
    std::size_t j = i_ + 1;
    if (At(j) == '@') ++j;
    if (IsQuote(At(j)) || At(j) == '`') {
      if (j == i_ + 1 && prev_ == Token::kLiteral && string_ && !space_ && IsQuote(At(j))) {
        Write(Token::kOperator, "@");
        i_ = QuotedEnd(j);
        WriteLiteral(true);
        return;
      }
      j = QuotedEnd(j);
    } else {
      while (IsWordByte(At(j)) || At(j) == '.') ++j;
    }
    Write(j == i_ + 1 ? Token::kOperator : Token::kName, in_.substr(i_, j - i_));
    i_ = j;
    partial_ = j == in_.size();
  }

  // The end of the number at `start`, or kNone if the digits there begin a name (`1abc`).
  std::size_t NumberEnd(std::size_t start) const {
    std::size_t j = start;
    const unsigned char radix = static_cast<unsigned char>(Lower(At(j + 1)));
    if (At(j) == '0' && (radix == 'x' || radix == 'b')) {
      j += 2;
      while (radix == 'x' ? IsHexDigit(At(j)) : (At(j) == '0' || At(j) == '1')) ++j;
      if (j > start + 2 && !IsWordByte(At(j))) return j;
      j = start;
    }
    bool integer = true;
    while (IsDigit(At(j))) ++j;
    if (At(j) == '.') {
      integer = false;
      ++j;
      while (IsDigit(At(j))) ++j;
    }
    if (Lower(At(j)) == 'e') {
      std::size_t k = j + 1;
      if (At(k) == '+' || At(k) == '-') ++k;
      if (IsDigit(At(k))) {
        while (IsDigit(At(k))) ++k;
        j = k;
        integer = false;
      }
    }
    return integer && IsWordByte(At(j)) ? kNone : j;
  }

  void Number() {
    const std::size_t end = NumberEnd(i_);
    if (end == kNone) {
      Word();
      return;
    }
    i_ = end;
    WriteLiteral(false);
  }

  // A sign where no operand precedes it is part of the number after it (if one does).
  bool SignIsUnary() const {
    return prev_ == Token::kStart || prev_ == Token::kOperator || prev_ == Token::kOpen ||
           prev_ == Token::kComma || prev_ == Token::kKeyword;
  }
  bool SignedNumber() {
    std::size_t j = i_ + 1;
    while (IsSpace(At(j))) ++j;
    if (!IsDigit(At(j)) && !(At(j) == '.' && IsDigit(At(j + 1)))) return false;
    const std::size_t end = NumberEnd(j);
    if (end == kNone) return false;
    i_ = end;
    WriteLiteral(false);
    return true;
  }

  // A `.` right after a name qualifies it (t1.5col); elsewhere `.5` is a number.
  bool QualifyingDot() const {
    return !space_ && (prev_ == Token::kName || prev_ == Token::kKeyword);
  }

  void Word() {
    std::size_t j = i_;
    while (IsWordByte(At(j))) ++j;
    const std::string_view word = in_.substr(i_, j - i_);
    const unsigned char first = static_cast<unsigned char>(Lower(At(i_)));
    // X'1F', B'01', N'text'.
    if (word.size() == 1 && At(j) == '\'' && (first == 'x' || first == 'b' || first == 'n')) {
      i_ = QuotedEnd(j);
      WriteLiteral(true);
      return;
    }
    // An introducer: the literal after it is what is written.
    if (first == '_' && word.size() > 1 && Introduces(word.substr(1), j)) {
      i_ = j;
      while (IsSpace(At(i_))) ++i_;
      return;
    }
    i_ = j;
    const bool qualified =
        prev_ == Token::kDot ||
        (At(j) == '.' && (IsWordByte(At(j + 1)) || At(j + 1) == '`' || At(j + 1) == '*'));
    if (!qualified && word.size() <= kMaxKeywordBytes) {
      std::array<char, kMaxKeywordBytes> buffer;
      std::uint64_t hash = sql::kWordHashStart;
      for (std::size_t k = 0; k < word.size(); ++k) {
        buffer[k] = Upper(static_cast<unsigned char>(word[k]));
        hash = WordHash(hash, buffer[k]);
      }
      const std::string_view upper(buffer.data(), word.size());
      const WordKind kind = FindWord(upper, hash);
      if (kind == WordKind::kKeyword || kind == WordKind::kValueKeyword) {
        Write(kind == WordKind::kValueKeyword ? Token::kValueWord : Token::kKeyword, upper);
        partial_ = j == in_.size();
        return;
      }
      if (kind == WordKind::kFunction && At(j) == '(') {
        Write(Token::kName, upper);
        return;
      }
    }
    Write(Token::kName, word);
    partial_ = j == in_.size();
  }

  // Whether `_charset` ending at `end` introduces the literal after it.
  bool Introduces(std::string_view charset, std::size_t end) const {
    if (IsQuote(At(end))) return true;
    std::size_t j = end;
    while (IsSpace(At(j))) ++j;
    const unsigned char next = At(j);
    const bool literal = IsQuote(next) || IsDigit(next) ||
                         ((Lower(next) == 'x' || Lower(next) == 'b') && At(j + 1) == '\'');
    if (!literal || charset.size() > 16) return false;
    std::array<char, 16> buffer{};
    std::transform(charset.begin(), charset.end(), buffer.begin(),
                   [](char c) { return Lower(static_cast<unsigned char>(c)); });
    return IsCharset(std::string_view(buffer.data(), charset.size()));
  }

  void Open() {
    Write(Token::kOpen, "(");
    if (depth_ < kMaxDepth && untracked_ == 0) {
      levels_[++depth_] = Level{.open = token_start_};
    } else {
      ++untracked_;
    }
  }

  void Close() {
    if (untracked_ > 0) {
      --untracked_;
      Write(Token::kClose, ")");
      return;
    }
    if (depth_ == 0) {  // Unbalanced.
      Write(Token::kClose, ")");
      return;
    }
    CloseGroup();
  }

  // Ends the innermost group: `(...)` if it held literals only; nothing if it repeats the
  // group before it in a list of rows (`VALUES (...), (...)`, `IN ((...), (...))`).
  void CloseGroup() {
    const Level group = levels_[depth_--];
    if (group.values_only && group.has_value) {
      out_.resize(group.open);
      out_.append("(...)");
    } else {
      if (space_) out_.push_back(' ');
      out_.push_back(')');
    }
    space_ = false;
    partial_ = false;
    prev_ = Token::kClose;
    token_start_ = group.open;
    Level& parent = levels_[depth_];
    const std::size_t size = out_.size() - group.open;
    if (parent.rows && parent.sibling != kNone && parent.sibling_comma &&
        parent.sibling_end - parent.sibling == size &&
        out_.compare(group.open, size, out_, parent.sibling, size) == 0) {
      out_.resize(parent.sibling_end);
      token_start_ = parent.sibling;
    } else {
      parent.sibling = group.open;
      parent.sibling_end = out_.size();
    }
    parent.sibling_comma = false;
  }

  void WriteLiteral(bool string) {
    Write(Token::kLiteral, "?");
    string_ = string;
  }

  // Writes a token (after a space if whitespace preceded it).
  void Write(Token token, std::string_view text) {
    if (space_ && !out_.empty()) out_.push_back(' ');
    space_ = false;
    partial_ = false;
    token_start_ = out_.size();
    out_.append(text);
    const bool after_values = values_;
    const Token before = prev_;
    prev_ = token;
    values_ = (token == Token::kKeyword && text == "VALUES") ||
              (token == Token::kName && text.size() == 5 &&
               std::equal(text.begin(), text.end(), "VALUE", [](char a, char b) {
                 return Upper(static_cast<unsigned char>(a)) == b;
               }));
    if (untracked_ > 0) return;
    Level& level = levels_[depth_];
    switch (token) {
      case Token::kLiteral:
        level.has_value = true;
        level.sibling = kNone;
        break;
      case Token::kComma:
        if (level.sibling_comma) level.sibling = kNone;
        level.sibling_comma = level.sibling != kNone;
        break;
      case Token::kOpen:
        level.values_only = false;
        if (!level.sibling_comma) {
          level.sibling = kNone;
          level.rows = after_values || before == Token::kOpen;
        }
        break;
      default:
        level.values_only = false;
        level.sibling = kNone;
        level.sibling_comma = false;
        break;
    }
  }

  void Finish() {
    if (cut_) {
      // The last word may be cut short; a list of values cut short is the list.
      if (partial_) out_.resize(token_start_);
      if (untracked_ == 0 && depth_ > 0 && levels_[depth_].values_only) {
        if (levels_[depth_].has_value) {
          space_ = false;
          CloseGroup();
        } else {
          out_.resize(levels_[depth_--].open);
        }
      }
    }
    while (!out_.empty() &&
           (out_.back() == ' ' || out_.back() == ';' || (cut_ && out_.back() == ','))) {
      out_.pop_back();
    }
    if (out_.size() > max_bytes_) {
      out_.resize(max_bytes_);
      cut_ = true;
    }
    if (cut_) out_.append(kShapeCutMark);
  }

  const std::string_view in_;
  const std::size_t max_bytes_;
  bool cut_;
  std::string& out_;
  std::size_t i_ = 0;        // Next byte of in_ to read.
  bool space_ = false;       // Whitespace (or a comment) since the last token.
  bool executable_ = false;  // Inside /*! */.
  Token prev_ = Token::kStart;
  bool string_ = false;          // The last literal was a quoted string.
  bool values_ = false;          // The last token was VALUES or VALUE.
  std::size_t token_start_ = 0;  // Offset in out_ of the last token.
  bool partial_ = false;         // The last token ends where in_ does (it may be cut).
  std::array<Level, kMaxDepth + 1> levels_{};
  std::size_t depth_ = 0;      // Open groups tracked in levels_.
  std::size_t untracked_ = 0;  // Open groups beyond kMaxDepth.
};

}  // namespace

void NormalizeQueryInto(std::string_view sql, std::size_t max_bytes, bool truncated_input,
                        std::string* shape) {
  ShapeWriter(sql, max_bytes, truncated_input, shape).Run();
}

std::string NormalizeQuery(std::string_view sql, std::size_t max_bytes, bool truncated_input) {
  std::string shape;
  shape.reserve(std::min(sql.size(), max_bytes) + kShapeCutMark.size());
  NormalizeQueryInto(sql, max_bytes, truncated_input, &shape);
  return shape;
}

std::uint64_t ShapeHash(std::string_view shape) { return std::hash<std::string_view>{}(shape); }

}  // namespace longlink::proxy
