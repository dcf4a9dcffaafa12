// Text from outside (user names, statements, schema names a client sent) on its way into a
// log line: escaped, so that no client can forge a line, move the terminal's cursor or write
// invalid UTF-8 into the log, and capped, so that a 10 KB name makes no 10 KB line.
//
//   Log(..., "access denied for user {}", LogQuoted(user));   // 'bob\n2026-...' -> 'bob\n...'
//
// Escapes: \\ \' \n \r \t, other control bytes (C0, DEL, C1 in UTF-8) and bytes that are not
// part of valid UTF-8 as \xNN. Valid multi-byte UTF-8 (names in other scripts) stays as it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace longlink {

// How many bytes of a client string a log line shows by default.
inline constexpr std::size_t kLogQuotedMax = 128;

// `text` escaped and in single quotes; beyond `max_bytes` of input it is cut at a character
// boundary and "...(N bytes)" says how long it was.
std::string LogQuoted(std::string_view text, std::size_t max_bytes = kLogQuotedMax);

// `text` with control bytes and invalid UTF-8 escaped as \xNN (no quotes, no cap, '\' kept):
// the last line of defence in WriteLogLine for anything that reached a message unquoted.
std::string LogSafe(std::string_view text);

// True if `text` needs no change by LogSafe (the common case: no copy).
bool IsLogSafe(std::string_view text);

// The first `max` bytes of `bytes` in hex ("00 00 00 02 40 ..."), with " ... (N bytes)" when
// there are more: for logs of packets the proxy could not follow.
std::string LogHexPrefix(std::span<const std::uint8_t> bytes, std::size_t max);

}  // namespace longlink
