// Whether the backend server is reachable, as every worker's connection attempts report it:
// the backoff between attempts while it is down, and logs that say it once, then at most every
// kReportInterval, and once more when it is back. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/recent_count.h"

namespace longlink::pool {

// What BackendHealth knows at one moment (the admin console's SHOW BACKENDS, metrics).
struct BackendHealthSnapshot {
  bool reachable = true;  // No failure since the last success (or none yet).
  std::chrono::steady_clock::time_point down_since = {};  // When !reachable.
  std::uint64_t connects = 0;                             // Connections opened since start.
  std::uint64_t connects_last_minute = 0;
  std::uint64_t failures = 0;      // Failed attempts to reach the server since start.
  std::uint32_t wait_timeout = 0;  // @@wait_timeout of the last connection opened (s); 0: none.
  std::string last_error = {};     // Of the last failure; empty if none.
};

class BackendHealth {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kReportInterval{10};
  static constexpr std::chrono::milliseconds kFirstBackoff{100};
  static constexpr std::chrono::milliseconds kMaxBackoff{500};

  // `backend`: how logs name the server ("127.0.0.1:3306").
  explicit BackendHealth(std::string backend) : backend_(std::move(backend)) {}

  // An attempt to reach the server failed in a way worth retrying (`error` says how).
  void OnFailure(const std::string& error);
  // A connection was opened: the server is reachable; its session has `wait_timeout` (s).
  void OnSuccess(std::uint32_t wait_timeout = 0);
  BackendHealthSnapshot Snapshot() const;
  // False while the backoff after the last failure runs (for background refills).
  bool MayTry(Clock::time_point now) const;

  // The wait before retry number `attempt` (1 = the first retry): kFirstBackoff, doubling,
  // at most kMaxBackoff.
  static std::chrono::milliseconds Backoff(int attempt);

 private:
  const std::string backend_;
  mutable std::mutex mutex_;
  bool down_ = false;
  Clock::time_point down_since_ = {};
  Clock::time_point last_failure_ = {};
  Clock::time_point last_report_ = {};
  std::uint64_t failures_ = 0;    // Since down_since_.
  std::uint64_t unreported_ = 0;  // Since last_report_.
  int consecutive_ = 0;           // For MayTry's backoff.
  std::uint64_t total_connects_ = 0;
  std::uint64_t total_failures_ = 0;
  std::uint32_t wait_timeout_ = 0;
  std::string last_error_ = {};
  RecentCount recent_connects_;
};

}  // namespace longlink::pool
