#include "pool/backend_health.h"

#include <algorithm>

#include "common/log.h"

namespace longlink::pool {

std::chrono::milliseconds BackendHealth::Backoff(int attempt) {
  auto wait = kFirstBackoff;
  for (int i = 1; i < attempt && wait < kMaxBackoff; ++i) wait *= 2;
  return std::min(wait, kMaxBackoff);
}

void BackendHealth::OnFailure(const std::string& error) {
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  last_failure_ = now;
  ++total_failures_;
  last_error_ = error;
  ++consecutive_;
  ++failures_;
  if (!down_) {
    down_ = true;
    down_since_ = now;
    failures_ = 1;
    unreported_ = 0;
    last_report_ = now;
    Log(LogLevel::kWarning, 0,
        "backend {} unreachable: {}; new sessions wait while the proxy retries", backend_, error);
    return;
  }
  ++unreported_;
  if (now - last_report_ >= kReportInterval) {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(now - down_since_).count();
    Log(LogLevel::kWarning, 0,
        "backend {} still unreachable after {} s: {} attempts failed since the last report; "
        "last error: {}",
        backend_, seconds, unreported_, error);
    unreported_ = 0;
    last_report_ = now;
  }
}

void BackendHealth::OnSuccess(std::uint32_t wait_timeout) {
  recent_connects_.Add();
  std::lock_guard lock(mutex_);
  consecutive_ = 0;
  ++total_connects_;
  if (wait_timeout != 0) wait_timeout_ = wait_timeout;
  if (!down_) return;
  down_ = false;
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - down_since_).count();
  Log(LogLevel::kInfo, 0, "backend {} reachable again after {}.{} s ({} failed attempts)", backend_,
      ms / 1000, (ms % 1000) / 100, failures_);
}

BackendHealthSnapshot BackendHealth::Snapshot() const {
  const std::uint64_t last_minute = recent_connects_.LastMinute();
  std::lock_guard lock(mutex_);
  return BackendHealthSnapshot{.reachable = !down_,
                               .down_since = down_since_,
                               .connects = total_connects_,
                               .connects_last_minute = last_minute,
                               .failures = total_failures_,
                               .wait_timeout = wait_timeout_,
                               .last_error = last_error_};
}

bool BackendHealth::MayTry(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return consecutive_ == 0 || now - last_failure_ >= Backoff(consecutive_);
}

}  // namespace longlink::pool
