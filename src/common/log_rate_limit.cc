#include "common/log_rate_limit.h"

namespace longlink {

LogRateLimit::Decision LogRateLimit::Admit(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (written_ == 0 || now - window_start_ >= window_) {
    window_start_ = now;
    written_ = 0;
  }
  Decision decision;
  if (written_ >= burst_) {
    if (suppressed_ == 0) first_suppressed_ = now;
    ++suppressed_;
    return decision;
  }
  ++written_;
  decision.write = true;
  if (suppressed_ > 0) {
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(now - first_suppressed_).count() + 1;
    decision.suffix = " (" + std::to_string(suppressed_) + " similar line" +
                      (suppressed_ == 1 ? "" : "s") + " not logged in the last " +
                      std::to_string(seconds) + " s)";
    suppressed_ = 0;
  }
  return decision;
}

}  // namespace longlink
