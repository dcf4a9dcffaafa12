#include "common/log_text.h"

#include <algorithm>
#include <cstdint>

namespace longlink {

namespace {

// The length of the valid UTF-8 sequence at the start of `text` (1-4), or 0 if it is not one
// (an ASCII byte counts as a sequence of 1). Overlong forms, surrogates and code points past
// U+10FFFF are invalid, as RFC 3629 says.
std::size_t Utf8SequenceLength(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint8_t min_second = 0x80;
  std::uint8_t max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // Overlong.
    if (lead == 0xED) max_second = 0x9F;  // Surrogates.
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;  // Overlong.
    if (lead == 0xF4) max_second = 0x8F;  // Past U+10FFFF.
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < min_second || byte(1) > max_second) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// C1 controls (U+0080..U+009F) are two-byte sequences C2 80..C2 9F: terminals act on them.
bool IsC1Control(std::string_view sequence) {
  return sequence.size() == 2 && static_cast<std::uint8_t>(sequence[0]) == 0xC2 &&
         static_cast<std::uint8_t>(sequence[1]) <= 0x9F;
}

void AppendHexDigits(std::string* out, std::uint8_t byte) {
  static constexpr char kDigits[] = "0123456789abcdef";
  *out += kDigits[byte >> 4];
  *out += kDigits[byte & 0xF];
}

void AppendHex(std::string* out, char c) {
  *out += "\\x";
  AppendHexDigits(out, static_cast<std::uint8_t>(c));
}

// Appends `text` escaped; with `quoting`, also \\ and \' and the named escapes.
void AppendEscaped(std::string* out, std::string_view text, bool quoting) {
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto byte = static_cast<std::uint8_t>(c);
    if (byte >= 0x80) {
      const std::size_t length = Utf8SequenceLength(text.substr(i));
      if (length == 0 || IsC1Control(text.substr(i, length))) {
        AppendHex(out, c);
        ++i;
      } else {
        out->append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    ++i;
    if (quoting && (c == '\\' || c == '\'')) {
      *out += '\\';
      *out += c;
    } else if (quoting && c == '\n') {
      *out += "\\n";
    } else if (quoting && c == '\r') {
      *out += "\\r";
    } else if (quoting && c == '\t') {
      *out += "\\t";
    } else if (byte < 0x20 || byte == 0x7F) {
      AppendHex(out, c);
    } else {
      *out += c;
    }
  }
}

}  // namespace

std::string LogQuoted(std::string_view text, std::size_t max_bytes) {
  std::string_view shown = text;
  if (shown.size() > max_bytes) {
    // Do not end in the middle of a UTF-8 sequence: step back over continuation bytes
    // (10xxxxxx) to the start of the character that the cut would split (at most 3).
    std::size_t cut = max_bytes;
    for (int step = 0; step < 3 && cut > 0 && (static_cast<std::uint8_t>(text[cut]) & 0xC0) == 0x80;
         ++step) {
      --cut;
    }
    shown = text.substr(0, cut);
  }
  std::string out;
  out.reserve(shown.size() + 16);
  out += '\'';
  AppendEscaped(&out, shown, /*quoting=*/true);
  out += '\'';
  if (shown.size() < text.size()) out += "...(" + std::to_string(text.size()) + " bytes)";
  return out;
}

bool IsLogSafe(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<std::uint8_t>(text[i]);
    if (byte < 0x80) {
      if (byte < 0x20 || byte == 0x7F) return false;
      ++i;
      continue;
    }
    const std::size_t length = Utf8SequenceLength(text.substr(i));
    if (length == 0 || IsC1Control(text.substr(i, length))) return false;
    i += length;
  }
  return true;
}

std::string LogHexPrefix(std::span<const std::uint8_t> bytes, std::size_t max) {
  const std::size_t shown = std::min(bytes.size(), max);
  std::string out;
  out.reserve(shown * 3 + 16);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) out += ' ';
    AppendHexDigits(&out, bytes[i]);
  }
  if (shown < bytes.size()) out += " ... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

std::string LogSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  AppendEscaped(&out, text, /*quoting=*/false);
  return out;
}

}  // namespace longlink
