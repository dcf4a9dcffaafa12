#include "proxy/query_digests.h"

#include <algorithm>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "proxy/query_shape.h"

namespace longlink::proxy {
namespace {

// Keys are ShapeHash values already.
struct IdentityHash {
  std::size_t operator()(std::uint64_t hash) const { return static_cast<std::size_t>(hash); }
};

// Adds `from` (an entry's figures, or one execution) to `into`.
void Fold(DigestRow& into, const DigestRow& from) {
  if (into.count == 0) {
    into.min_us = from.min_us;
    into.max_us = from.max_us;
    into.first_seen = from.first_seen;
    into.last_seen = from.last_seen;
  } else {
    into.min_us = std::min(into.min_us, from.min_us);
    into.max_us = std::max(into.max_us, from.max_us);
    into.first_seen = std::min(into.first_seen, from.first_seen);
    into.last_seen = std::max(into.last_seen, from.last_seen);
  }
  into.count += from.count;
  into.errors += from.errors;
  into.rows += from.rows;
  into.total_us += from.total_us;
}

}  // namespace

struct alignas(64) QueryDigests::Shard {
  mutable std::mutex mutex;
  std::size_t cap = 0;  // Its share of max_entries_.
  // By ShapeHash (a multimap: two shapes may share a hash).
  std::unordered_multimap<std::uint64_t, DigestRow, IdentityHash> rows;
  DigestRow other;  // The shapes evicted from this shard.
};

QueryDigests::QueryDigests(std::size_t max_entries)
    : max_entries_(max_entries),
      shard_count_(std::clamp<std::size_t>(max_entries / 64, 1, kMaxShards)),
      shards_(max_entries == 0 ? nullptr : std::make_unique<Shard[]>(shard_count_)) {
  for (std::size_t i = 0; shards_ != nullptr && i < shard_count_; ++i) {
    Shard& shard = shards_[i];
    shard.cap = max_entries / shard_count_ + (i < max_entries % shard_count_ ? 1 : 0);
    shard.rows.reserve(shard.cap + 1);
    shard.other.shape = kOtherShape;
  }
}

QueryDigests::~QueryDigests() = default;

void QueryDigests::Record(std::string_view statement, bool truncated_input,
                          std::uint64_t latency_us, std::uint64_t rows, bool error,
                          std::chrono::system_clock::time_point now) {
  if (!enabled()) return;
  // One buffer per thread: normalizing a statement allocates nothing once it has grown.
  thread_local std::string shape;
  NormalizeQueryInto(statement, kMaxShapeBytes, truncated_input, &shape);
  const std::uint64_t hash = ShapeHash(shape);
  const DigestRow execution{.count = 1,
                            .errors = error ? 1U : 0U,
                            .rows = rows,
                            .total_us = latency_us,
                            .min_us = latency_us,
                            .max_us = latency_us,
                            .first_seen = now,
                            .last_seen = now};
  Shard& shard = shards_[(hash ^ (hash >> 32)) % shard_count_];
  std::lock_guard lock(shard.mutex);
  auto [begin, end] = shard.rows.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    if (it->second.shape == shape) {
      Fold(it->second, execution);
      return;
    }
  }
  if (shard.rows.size() >= shard.cap) Evict(shard);
  DigestRow& row = shard.rows.emplace(hash, DigestRow{.shape = shape})->second;
  Fold(row, execution);
}

void QueryDigests::Evict(Shard& shard) {
  using Iterator = decltype(shard.rows)::iterator;
  std::vector<Iterator> rows;
  rows.reserve(shard.rows.size());
  for (auto it = shard.rows.begin(); it != shard.rows.end(); ++it) rows.push_back(it);
  const std::size_t evicted = std::max<std::size_t>(1, shard.cap / 10);
  const auto fewer = [](Iterator a, Iterator b) {
    return std::tie(a->second.count, a->second.last_seen) <
           std::tie(b->second.count, b->second.last_seen);
  };
  const auto last = rows.begin() + static_cast<std::ptrdiff_t>(std::min(evicted, rows.size()));
  std::nth_element(rows.begin(), last, rows.end(), fewer);
  for (auto it = rows.begin(); it != last; ++it) {
    Fold(shard.other, (*it)->second);
    shard.rows.erase(*it);
  }
}

std::vector<DigestRow> QueryDigests::Snapshot() const {
  std::vector<DigestRow> result;
  DigestRow other{.shape = std::string(kOtherShape)};
  for (std::size_t i = 0; shards_ != nullptr && i < shard_count_; ++i) {
    const Shard& shard = shards_[i];
    std::lock_guard lock(shard.mutex);
    result.reserve(result.size() + shard.rows.size() + 1);
    for (const auto& [hash, row] : shard.rows) result.push_back(row);
    if (shard.other.count != 0) Fold(other, shard.other);
  }
  if (other.count != 0) result.push_back(std::move(other));
  std::sort(result.begin(), result.end(), [](const DigestRow& a, const DigestRow& b) {
    return std::tie(b.total_us, b.count, a.shape) < std::tie(a.total_us, a.count, b.shape);
  });
  return result;
}

void QueryDigests::Clear() {
  for (std::size_t i = 0; shards_ != nullptr && i < shard_count_; ++i) {
    Shard& shard = shards_[i];
    std::lock_guard lock(shard.mutex);
    shard.rows.clear();
    shard.other = DigestRow{.shape = std::string(kOtherShape)};
  }
}

std::size_t QueryDigests::size() const {
  std::size_t total = 0;
  for (std::size_t i = 0; shards_ != nullptr && i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].rows.size();
  }
  return total;
}

}  // namespace longlink::proxy
