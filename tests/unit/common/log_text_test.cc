// LogQuoted, LogSafe and IsLogSafe: client text on its way into a log line.
#include "common/log_text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace longlink {
namespace {

using namespace std::string_literals;  // "\0"s keeps the NUL.

struct QuotedRow {
  const char* name;
  std::string input;
  std::string quoted;  // LogQuoted(input) with the default cap.
};

TEST(LogQuoted, EscapesWhatCouldForgeOrCorruptALine) {
  const std::vector<QuotedRow> rows = {
      {"empty", "", "''"},
      {"plain", "app", "'app'"},
      {"forged log line", "bob\n2026-01-01T00:00:00.000Z error forged",
       "'bob\\n2026-01-01T00:00:00.000Z error forged'"},
      {"carriage return and tab", "a\rb\tc", "'a\\rb\\tc'"},
      {"backslash", "a\\b", "'a\\\\b'"},
      {"single quote", "o'brien", "'o\\'brien'"},
      {"a quote cannot close the quoting", "x' or '1'='1", "'x\\' or \\'1\\'=\\'1'"},
      {"double quote kept", "say \"hi\"", "'say \"hi\"'"},
      {"escape sequence", "\x1b[2J", "'\\x1b[2J'"},
      {"NUL", "a\0b"s, "'a\\x00b'"},
      {"other C0 controls", "\x01\x08\x0b\x0c\x1f", "'\\x01\\x08\\x0b\\x0c\\x1f'"},
      {"DEL", "a\x7f", "'a\\x7f'"},
      {"C1 control NEL", "a\xc2\x85z", "'a\\xc2\\x85z'"},
      {"C1 control CSI",
       "\xc2\x9b"
       "2J",
       "'\\xc2\\x9b2J'"},
      {"first character after C1 kept (NBSP)", "\xc2\xa0", "'\xc2\xa0'"},
      {"two-byte UTF-8 kept", "Zo\xc3\xab", "'Zo\xc3\xab'"},
      {"three-byte UTF-8 kept", "\xe6\x97\xa5\xe6\x9c\xac", "'\xe6\x97\xa5\xe6\x9c\xac'"},
      {"four-byte UTF-8 kept", "\xf0\x9f\x98\x80", "'\xf0\x9f\x98\x80'"},
      {"highest code point kept", "\xf4\x8f\xbf\xbf", "'\xf4\x8f\xbf\xbf'"},
      {"overlong slash C0 AF", "\xc0\xaf", "'\\xc0\\xaf'"},
      {"overlong C1 lead", "\xc1\xbf", "'\\xc1\\xbf'"},
      {"overlong three-byte", "\xe0\x80\xaf", "'\\xe0\\x80\\xaf'"},
      {"overlong four-byte", "\xf0\x80\x80\xaf", "'\\xf0\\x80\\x80\\xaf'"},
      {"surrogate ED A0 80", "\xed\xa0\x80", "'\\xed\\xa0\\x80'"},
      {"last surrogate", "\xed\xbf\xbf", "'\\xed\\xbf\\xbf'"},
      {"last character before the surrogates kept", "\xed\x9f\xbf", "'\xed\x9f\xbf'"},
      {"past U+10FFFF", "\xf4\x90\x80\x80", "'\\xf4\\x90\\x80\\x80'"},
      {"lead byte F5", "\xf5\x80\x80\x80", "'\\xf5\\x80\\x80\\x80'"},
      {"FF", "a\xff", "'a\\xff'"},
      {"lone continuation byte", "\x80z", "'\\x80z'"},
      {"sequence cut short by the end", "a\xe6\x97", "'a\\xe6\\x97'"},
      {"sequence cut short by ASCII", "\xe6\x97z", "'\\xe6\\x97z'"},
      {"ESC after a valid character", "\xc3\xab\x1b", "'\xc3\xab\\x1b'"},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(LogQuoted(row.input), row.quoted) << row.name;
  }
}

struct CapRow {
  const char* name;
  std::string input;
  std::size_t max_bytes;
  std::string quoted;
};

TEST(LogQuoted, CapsAtACharacterBoundaryAndSaysHowLongTheTextWas) {
  const std::string ten_kb(10240, 'n');
  const std::string nihon = "\xe6\x97\xa5";       // U+65E5, 3 bytes.
  const std::string smiley = "\xf0\x9f\x98\x80";  // U+1F600, 4 bytes.
  const std::vector<CapRow> rows = {
      {"10 KB name", ten_kb, kLogQuotedMax,
       "'" + std::string(kLogQuotedMax, 'n') + "'...(10240 bytes)"},
      {"exactly the cap", std::string(128, 'a'), 128, "'" + std::string(128, 'a') + "'"},
      {"one past the cap", std::string(129, 'a'), 128,
       "'" + std::string(128, 'a') + "'...(129 bytes)"},
      {"cap of zero", "abc", 0, "''...(3 bytes)"},
      {"cap counts input bytes, not escaped ones", std::string(10, '\n'), 4,
       "'\\n\\n\\n\\n'...(10 bytes)"},
      {"cap after a 3-byte character", "ab" + nihon + "cd", 5, "'ab" + nihon + "'...(7 bytes)"},
      {"cap after the first byte of a 3-byte character", "abcd" + nihon + "z", 5,
       "'abcd'...(8 bytes)"},
      {"cap after the second byte of a 3-byte character", "abcd" + nihon + "z", 6,
       "'abcd'...(8 bytes)"},
      {"cap inside a 3-byte character at the default cap", std::string(127, 'a') + nihon + "tail",
       kLogQuotedMax, "'" + std::string(127, 'a') + "'...(134 bytes)"},
      {"cap inside a 4-byte character, 3 bytes in", "abcd" + smiley, 7, "'abcd'...(8 bytes)"},
      {"cap inside a 4-byte character, 1 byte in", "abcd" + smiley, 5, "'abcd'...(8 bytes)"},
      {"cap inside a 2-byte character", "abcde\xc3\xab", 6, "'abcde'...(7 bytes)"},
      {"cap inside a forged line", "bob\n2026-01-01T00:00:00.000Z error forged", 5,
       "'bob\\n2'...(41 bytes)"},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(LogQuoted(row.input, row.max_bytes), row.quoted) << row.name;
  }
}

// BUG (reported, not fixed here): for max_bytes < 4 the cut-back loop in LogQuoted computes
// `shown.size() - 4` in std::size_t, which wraps, so it never runs and the cut ends inside the
// character (the partial bytes come out as \xNN). Enable once log_text.cc is fixed.
TEST(LogQuoted, SmallCapFallingInsideACharacterCutsAtItsStart) {
  const std::string nihon = "\xe6\x97\xa5";
  EXPECT_EQ(LogQuoted("ab" + nihon, 3), "'ab'...(5 bytes)");
  EXPECT_EQ(LogQuoted("a" + nihon, 2), "'a'...(4 bytes)");
  EXPECT_EQ(LogQuoted(nihon, 1), "''...(3 bytes)");
}

struct SafeRow {
  const char* name;
  std::string input;
  std::string safe;  // LogSafe(input).
  bool is_safe;      // IsLogSafe(input).
};

TEST(LogSafe, EscapesControlsAndInvalidUtf8WithoutQuotingOrCap) {
  const std::string ten_kb(10240, 'n');
  const std::vector<SafeRow> rows = {
      {"empty", "", "", true},
      {"plain", "pool app/utf8mb4(45) opened", "pool app/utf8mb4(45) opened", true},
      {"backslash and quotes kept", "a\\b 'c' \"d\"", "a\\b 'c' \"d\"", true},
      {"forged log line", "bob\n2026-01-01T00:00:00.000Z error forged",
       "bob\\x0a2026-01-01T00:00:00.000Z error forged", false},
      {"carriage return", "a\rb", "a\\x0db", false},
      {"tab", "a\tb", "a\\x09b", false},
      {"escape sequence", "\x1b[2J", "\\x1b[2J", false},
      {"NUL", "\0"s, "\\x00", false},
      {"DEL", "\x7f", "\\x7f", false},
      {"C1 control", "\xc2\x9b", "\\xc2\\x9b", false},
      {"NBSP kept", "a\xc2\xa0z", "a\xc2\xa0z", true},
      {"multibyte UTF-8 kept", "Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x98\x80",
       "Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x98\x80", true},
      {"overlong C0 AF", "\xc0\xaf", "\\xc0\\xaf", false},
      {"surrogate ED A0 80", "\xed\xa0\x80", "\\xed\\xa0\\x80", false},
      {"past U+10FFFF", "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", false},
      {"truncated at the end", "x\xf0\x9f\x98", "x\\xf0\\x9f\\x98", false},
      {"lone continuation", "\xbf", "\\xbf", false},
      {"10 KB name, no cap", ten_kb, ten_kb, true},
      {"unsafe byte at the end of 10 KB", ten_kb + "\n", ten_kb + "\\x0a", false},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(LogSafe(row.input), row.safe) << row.name;
    EXPECT_EQ(IsLogSafe(row.input), row.is_safe) << row.name;
  }
}

TEST(LogHexPrefix, ShowsAtMostMaxBytesAndSaysHowManyThereWere) {
  struct Row {
    std::vector<std::uint8_t> bytes;
    std::size_t max;
    std::string expected;
  };
  const Row rows[] = {
      {{}, 64, ""},
      {{0x00}, 64, "00"},
      {{0x00, 0x40, 0xff, 0x0a}, 64, "00 40 ff 0a"},
      {{0x00, 0x40, 0xff, 0x0a}, 4, "00 40 ff 0a"},
      {{0x00, 0x40, 0xff, 0x0a}, 2, "00 40 ... (4 bytes)"},
      {{0x01, 0x02}, 0, " ... (2 bytes)"},
  };
  for (const Row& row : rows) EXPECT_EQ(LogHexPrefix(row.bytes, row.max), row.expected);
}

}  // namespace
}  // namespace longlink
