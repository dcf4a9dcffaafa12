// A cap on how often one kind of log line is written, for events a client can cause at will
// (failed logins, handshake timeouts, refused clients, accept errors): a flood of them must not
// fill the disk or hide everything else in the log.
//
//   static LogRateLimit denied;  // One per kind of event, shared by all threads.
//   if (auto note = denied.Admit(); note.write) {
//     Log(LogLevel::kInfo, id, "access denied for user {}{}", LogQuoted(user), note.suffix);
//   }
//
// At most `burst` lines are written per `window`; the rest are counted, and the first line
// written after them says how many were left out: " (42 similar lines not logged in the last
// 10 s)". Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace longlink {

class LogRateLimit {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::uint32_t kDefaultBurst = 10;
  static constexpr Clock::duration kDefaultWindow = std::chrono::seconds(10);

  explicit LogRateLimit(std::uint32_t burst = kDefaultBurst,
                        Clock::duration window = kDefaultWindow)
      : burst_(burst), window_(window) {}

  struct Decision {
    bool write = false;
    std::string suffix = {};  // Empty, or the count of lines left out, for the end of the line.
  };
  // Whether to write this line (at `now`).
  Decision Admit(Clock::time_point now = Clock::now());

 private:
  const std::uint32_t burst_;
  const Clock::duration window_;
  std::mutex mutex_;
  Clock::time_point window_start_ = {};
  std::uint32_t written_ = 0;     // In the current window.
  std::uint64_t suppressed_ = 0;  // Since the last line written.
  Clock::time_point first_suppressed_ = {};
};

}  // namespace longlink
