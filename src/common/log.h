// Logging for long-running commands (`longlink proxy`): one line per event on stderr, written
// with a single write(2) so lines from worker threads never interleave.
//
//   2026-11-25T10:00:00.123Z info  [s42] backend 127.0.0.1:3306 unreachable: Connection refused
//
// A session id ("s42": the id the client saw in the greeting) tags every line about a session;
// nothing is logged per query unless the level is debug.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace longlink {

enum class LogLevel : int { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// "error", "warning", "info", "debug"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// The process-wide threshold; messages above it are dropped before formatting.
void SetLogLevel(LogLevel level);
LogLevel CurrentLogLevel();
inline bool LogEnabled(LogLevel level) {
  extern std::atomic<int> g_log_level;
  return static_cast<int>(level) <= g_log_level.load(std::memory_order_relaxed);
}

// Writes one line. `session` 0 means "not about a session". Control bytes and invalid UTF-8 in
// `message` are escaped and it is cut at 8 KiB; still, quote every client-supplied string with
// LogQuoted (common/log_text.h), which also caps it.
void WriteLogLine(LogLevel level, std::uint64_t session, std::string_view message);

template <typename... Args>
void Log(LogLevel level, std::uint64_t session, fmt::format_string<Args...> format,
         Args&&... args) {
  if (!LogEnabled(level)) return;
  WriteLogLine(level, session, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace longlink
