#include "common/log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include "common/log_text.h"

namespace longlink {

std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "error") return LogLevel::kError;
  if (name == "warning") return LogLevel::kWarning;
  if (name == "info") return LogLevel::kInfo;
  if (name == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

void SetLogLevel(LogLevel level) {
  g_log_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel CurrentLogLevel() {
  return static_cast<LogLevel>(g_log_level.load(std::memory_order_relaxed));
}

namespace {

constexpr std::size_t kMaxLogMessage = 8192;

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warn ";
    case LogLevel::kInfo:
      return "info ";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?    ";
}

}  // namespace

void WriteLogLine(LogLevel level, std::uint64_t session, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::string line = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} ",
                                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                                 utc.tm_min, utc.tm_sec, millis, LevelName(level));
  if (session != 0) line += fmt::format("[s{}] ", session);
  // Client strings are quoted where they are formatted (LogQuoted); this is the safety net for
  // anything that was not: no control byte or invalid UTF-8 reaches the log, no line is huge.
  if (message.size() > kMaxLogMessage) message = message.substr(0, kMaxLogMessage);
  if (IsLogSafe(message)) {
    line += message;
  } else {
    line += LogSafe(message);
  }
  line += '\n';
  // One write per line: lines from different threads do not interleave.
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n <= 0) break;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace longlink
