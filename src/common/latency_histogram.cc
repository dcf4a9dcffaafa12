#include "common/latency_histogram.h"

#include <algorithm>

namespace longlink {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// The bounds in whole microseconds.
constexpr std::array<std::uint64_t, kLatencyBounds.size()> kBoundsUs = [] {
  std::array<std::uint64_t, kLatencyBounds.size()> out{};
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    out[i] = static_cast<std::uint64_t>(kLatencyBounds[i] * 1e6 + 0.5);
  }
  return out;
}();

}  // namespace

LatencySnapshot& LatencySnapshot::operator+=(const LatencySnapshot& other) {
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) counts[i] += other.counts[i];
  count += other.count;
  sum_us += other.sum_us;
  max_us = std::max(max_us, other.max_us);
  return *this;
}

std::size_t LatencyHistogram::BucketOf(std::uint64_t us) {
  return static_cast<std::size_t>(std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), us) -
                                  kBoundsUs.begin());
}

void LatencyHistogram::Observe(std::chrono::steady_clock::duration elapsed) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  ObserveMicros(us > 0 ? static_cast<std::uint64_t>(us) : 0);
}

void LatencyHistogram::ObserveMicros(std::uint64_t us) {
  counts_[BucketOf(us)].fetch_add(1, kRelaxed);
  sum_us_.fetch_add(us, kRelaxed);
  std::uint64_t seen = max_us_.load(kRelaxed);
  while (us > seen && !max_us_.compare_exchange_weak(seen, us, kRelaxed)) {
  }
}

LatencySnapshot LatencyHistogram::Snapshot() const {
  LatencySnapshot out;
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
    out.counts[i] = counts_[i].load(kRelaxed);
    out.count += out.counts[i];
  }
  out.sum_us = sum_us_.load(kRelaxed);
  out.max_us = max_us_.load(kRelaxed);
  return out;
}

}  // namespace longlink
