#include "proxy/login_failures.h"

#include <algorithm>
#include <vector>

namespace longlink::proxy {

std::uint64_t LoginFailures::Record(const std::string& user, const std::string& host) {
  std::lock_guard lock(mutex_);
  auto key = std::make_pair(user, host);
  if (tallies_.size() >= kMaxPairs && !tallies_.contains(key)) {
    // Forget the half that failed least recently.
    std::vector<std::uint64_t> lasts;
    lasts.reserve(tallies_.size());
    for (const auto& [pair, tally] : tallies_) lasts.push_back(tally.last);
    auto middle = lasts.begin() + static_cast<std::ptrdiff_t>(lasts.size() / 2);
    std::nth_element(lasts.begin(), middle, lasts.end());
    const std::uint64_t cut = *middle;
    std::erase_if(tallies_, [cut](const auto& item) { return item.second.last < cut; });
  }
  Tally& tally = tallies_[std::move(key)];
  ++tally.failures;
  tally.last = ++sequence_;
  return tally.failures;
}

std::uint64_t LoginFailures::Count(const std::string& user, const std::string& host) const {
  std::lock_guard lock(mutex_);
  auto it = tallies_.find(std::make_pair(user, host));
  return it == tallies_.end() ? 0 : it->second.failures;
}

std::uint64_t LoginFailures::Total() const {
  std::lock_guard lock(mutex_);
  return sequence_;
}

}  // namespace longlink::proxy
