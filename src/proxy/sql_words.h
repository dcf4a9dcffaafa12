// The words and bytes of SQL text as MariaDB's lexer sees them, for the shape of a statement
// (query_shape.h) and the proxy's other readers of SQL text (the session-state scan, KILL, the
// admin console's commands).
//
// Bytes: whitespace is the six ASCII blanks; a word (a bare identifier or keyword) is made of
// ASCII letters, digits, `_`, `$` and any non-ASCII byte, as MariaDB allows (the proxy's own
// statement readers stop a word at a non-ASCII byte: IsAsciiWordByte); case folding (Upper,
// Lower) is ASCII only and leaves every other byte as it is. None of these depend on the
// locale.
//
// Words: FindWord tells whether an upper-case word is one of MariaDB's reserved words or a few
// common statement keywords that are not reserved (BEGIN, COMMIT, SESSION, NAMES, ...), one of
// those keywords that is a value (NULL, TRUE, CURRENT_DATE, ...), or a built-in function in
// common use (COUNT, NOW, CONCAT, ...). It takes the word with its WordHash (from kWordHashStart,
// one step a byte), so that a caller upper-cases and hashes a word in one pass; no known word is
// longer than kMaxKeywordBytes. IsCharset tells whether a lower-case word names a character
// set (for an introducer, `_latin1 'a'`). Both are safe from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace longlink::proxy::sql {

// Longer words are never keywords (the longest is SQL_CALC_FOUND_ROWS).
constexpr std::size_t kMaxKeywordBytes = 24;

enum class WordKind : std::uint8_t { kOther, kKeyword, kValueKeyword, kFunction };

// FNV-1a over the upper-case bytes of a word.
constexpr std::uint64_t kWordHashStart = 0xcbf29ce484222325ULL;
constexpr std::uint64_t WordHash(std::uint64_t hash, char upper) {
  return (hash ^ static_cast<unsigned char>(upper)) * 0x100000001b3ULL;
}

// `upper`: an upper-case word; `hash`: its WordHash.
WordKind FindWord(std::string_view upper, std::uint64_t hash);
// `lower`: a lower-case word.
bool IsCharset(std::string_view lower);

constexpr bool IsSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
constexpr bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool IsHexDigit(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool IsAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// A byte of a bare identifier (MariaDB allows any non-ASCII character in one).
inline constexpr std::array<bool, 256> kWordBytes = [] {
  std::array<bool, 256> table{};
  for (unsigned c = 0; c < 256; ++c) {
    const auto byte = static_cast<unsigned char>(c);
    table[c] = IsAlpha(byte) || IsDigit(byte) || c == '_' || c == '$' || c >= 0x80;
  }
  return table;
}();
constexpr bool IsWordByte(unsigned char c) { return kWordBytes[c]; }
// A byte of a word as the proxy's own readers of statements take one (ScanStatement, SET
// assignments, KILL, prepared KILLs): an ASCII letter or digit, `_` or `$`. Unlike
// IsWordByte, a non-ASCII byte ends the word.
constexpr bool IsAsciiWordByte(unsigned char c) {
  return IsAlpha(c) || IsDigit(c) || c == '_' || c == '$';
}
constexpr bool IsQuote(unsigned char c) { return c == '\'' || c == '"'; }
constexpr char Upper(unsigned char c) {
  return static_cast<char>(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
}
constexpr char Lower(unsigned char c) {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

}  // namespace longlink::proxy::sql
