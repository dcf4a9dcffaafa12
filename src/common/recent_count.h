// How many times something happened in the last minute (client logins, server connects), for
// "now" figures beside the totals since start: a ring of per-second counts. Thread-safe; a
// short lock per event, so for events per session, not per query.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>

namespace longlink {

class RecentCount {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kWindow{60};

  void Add(std::uint64_t count = 1, Clock::time_point now = Clock::now());
  // Events in the kWindow seconds up to `now` (the current second included).
  std::uint64_t LastMinute(Clock::time_point now = Clock::now()) const;

 private:
  struct Slot {
    std::int64_t second = -1;  // Which second it counts; -1: none yet.
    std::uint64_t count = 0;
  };
  static std::int64_t SecondOf(Clock::time_point when);

  mutable std::mutex mutex_;
  std::array<Slot, kWindow.count()> slots_ = {};
};

}  // namespace longlink
