#include "common/recent_count.h"

namespace longlink {

std::int64_t RecentCount::SecondOf(Clock::time_point when) {
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

void RecentCount::Add(std::uint64_t count, Clock::time_point now) {
  const std::int64_t second = SecondOf(now);
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[static_cast<std::size_t>(second % kWindow.count())];
  if (slot.second != second) slot = Slot{.second = second, .count = 0};
  slot.count += count;
}

std::uint64_t RecentCount::LastMinute(Clock::time_point now) const {
  const std::int64_t second = SecondOf(now);
  std::uint64_t total = 0;
  std::lock_guard lock(mutex_);
  for (const Slot& slot : slots_) {
    if (slot.second > second - kWindow.count() && slot.second <= second) total += slot.count;
  }
  return total;
}

}  // namespace longlink
