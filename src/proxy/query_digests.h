// The query digest table behind the admin console's SHOW QUERIES (docs/QUERY_DIGESTS.md):
// per statement shape (NormalizeQuery, query_shape.h), how many times it ran, its errors, the
// rows it sent or changed, and its latency (total, min, max), first and last seen.
//
// Bounded ([admin] max_query_digests): at most max_entries() shapes, plus one row,
// kOtherShape, that sums up those evicted. The table is split in shards (up to kMaxShards, one
// per 64 entries of the cap: one shard below 128), each with its share of the cap and a lock
// of its own. A new shape in a full shard first evicts that shard's tenth (at least one) of
// the shapes with the fewest executions (the least recently seen of equal counts first),
// folding their figures into kOtherShape: the sums over all rows (count, errors, rows, total
// latency) stay exact, and the cost of eviction (a pass over the shard) is paid once every
// tenth of a shard's new shapes. A shard may be full while others are not, so eviction can
// start before size() reaches the cap (at 1000, typically at about 82% of it).
//
// Memory: a shape is at most kMaxShapeBytes + 3 bytes, so an entry holds at most about
// kMaxEntryBytes; the table at most max_entries() * kMaxEntryBytes (about 1.2 MiB for the
// default cap of 1000), plus each recording thread's buffer of kMaxShapeBytes + 3.
//
// Thread-safe. Record normalizes outside any lock, then holds one shard's lock for a lookup;
// an existing shape costs no allocation.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace longlink::proxy {

// One row of SHOW QUERIES.
struct DigestRow {
  std::string shape = {};      // NormalizeQuery's; kOtherShape for the evicted shapes.
  std::uint64_t count = 0;     // Executions.
  std::uint64_t errors = 0;    // Executions that ended with an error.
  std::uint64_t rows = 0;      // Rows sent or affected, summed.
  std::uint64_t total_us = 0;  // Latency, summed.
  std::uint64_t min_us = 0;
  std::uint64_t max_us = 0;
  std::chrono::system_clock::time_point first_seen = {};
  std::chrono::system_clock::time_point last_seen = {};
  friend bool operator==(const DigestRow&, const DigestRow&) = default;
};

class QueryDigests {
 public:
  // Statements are read up to this many bytes; longer shapes end with "...".
  static constexpr std::size_t kMaxShapeBytes = 1024;
  // An entry's memory at most: its shape, its figures and the hash table's node and bucket.
  static constexpr std::size_t kMaxEntryBytes = 1280;
  static constexpr std::size_t kMaxShards = 16;
  static constexpr std::string_view kOtherShape = "<other>";

  // `max_entries` 0: disabled (Record returns at once).
  explicit QueryDigests(std::size_t max_entries);
  ~QueryDigests();
  QueryDigests(const QueryDigests&) = delete;
  QueryDigests& operator=(const QueryDigests&) = delete;

  bool enabled() const { return max_entries_ != 0; }
  std::size_t max_entries() const { return max_entries_; }

  // One execution of `statement` (its text, or its first bytes: `truncated_input`), which
  // took `latency_us` and sent or affected `rows` rows, and failed if `error`.
  void Record(std::string_view statement, bool truncated_input, std::uint64_t latency_us,
              std::uint64_t rows, bool error) {
    if (enabled()) {
      Record(statement, truncated_input, latency_us, rows, error, std::chrono::system_clock::now());
    }
  }
  // The same, at `now`.
  void Record(std::string_view statement, bool truncated_input, std::uint64_t latency_us,
              std::uint64_t rows, bool error, std::chrono::system_clock::time_point now);

  // Every shape, and kOtherShape if anything was evicted, by total latency, highest first
  // (then by count, then by shape).
  std::vector<DigestRow> Snapshot() const;
  // Forgets every shape, and kOtherShape's figures.
  void Clear();
  // Shapes kept (kOtherShape not counted).
  std::size_t size() const;

 private:
  struct Shard;
  static void Evict(Shard& shard);

  std::size_t max_entries_;
  std::size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace longlink::proxy
