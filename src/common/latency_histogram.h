// A latency histogram that many threads add to without a lock, and its plain snapshot for the
// admin console and Prometheus (`_bucket`, `_sum`, `_count`).
//
// Buckets are fixed (kLatencyBounds, seconds, Prometheus' default set extended down to 100 us
// for a proxy on one host): adding is a few compares and two relaxed atomic increments, and
// every histogram has the same bounds, so pools add up.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace longlink {

// Upper bounds of the buckets, in seconds; one more bucket (+Inf) takes the rest.
inline constexpr std::array<double, 14> kLatencyBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
inline constexpr std::size_t kLatencyBuckets = kLatencyBounds.size() + 1;

// What a histogram held at one moment. counts[i]: observations in bucket i alone (not
// cumulative); counts[kLatencyBuckets - 1]: above the last bound.
struct LatencySnapshot {
  std::array<std::uint64_t, kLatencyBuckets> counts = {};
  std::uint64_t count = 0;
  std::uint64_t sum_us = 0;  // Microseconds.
  std::uint64_t max_us = 0;  // The largest observed since start.
  double sum_seconds() const { return static_cast<double>(sum_us) / 1e6; }
  LatencySnapshot& operator+=(const LatencySnapshot& other);
};

class LatencyHistogram {
 public:
  // The bucket an observation of `us` microseconds falls in.
  static std::size_t BucketOf(std::uint64_t us);
  // Thread-safe, lock-free.
  void Observe(std::chrono::steady_clock::duration elapsed);
  void ObserveMicros(std::uint64_t us);
  LatencySnapshot Snapshot() const;

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBuckets> counts_{};
  std::atomic<std::uint64_t> sum_us_{0};
  std::atomic<std::uint64_t> max_us_{0};
};

}  // namespace longlink
