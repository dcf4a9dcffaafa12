// How many backend connections exist (open or opening), counted three ways, against three
// limits: per pool (pool.max_connections), per user across all of its pools
// (pool.max_user_connections) and in all (backend.max_connections). A pool is one user with one
// collation and set of capability flags, so without the user and total limits a client could
// take one user past the server's max_connections by cycling collations or flags.
//
// A plain value, not thread-safe: the pools hold it under their lock.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "pool/pool_key.h"

namespace longlink::pool {

// The connections that count against the limits for one more of some pool key.
struct ConnectionCounts {
  std::uint32_t pool = 0;   // Of the key's pool.
  std::uint32_t user = 0;   // Of the key's user, all of its pools.
  std::uint32_t total = 0;  // All.
  friend bool operator==(const ConnectionCounts&, const ConnectionCounts&) = default;
};

class ConnectionBudget {
 public:
  struct Limits {
    std::uint32_t per_pool = 0;
    std::uint32_t per_user = 0;
    std::uint32_t total = 0;
  };
  // Which limit stops one more connection.
  enum class Limit { kNone, kPool, kUser, kTotal };

  explicit ConnectionBudget(Limits limits) : limits_(limits) {}

  // The first limit (pool, user, total) that one more connection of `key` would pass.
  Limit Check(const PoolKey& key) const;
  // Counts one more connection of `key`. REQUIRES: Check(key) == kNone, or the caller
  // accepts going past (it never does).
  void Add(const PoolKey& key);
  // Counts one fewer. REQUIRES: a matching Add.
  void Remove(const PoolKey& key);

  std::uint32_t pool(const PoolKey& key) const;
  std::uint32_t user(const std::string& name) const;
  std::uint32_t total() const { return total_; }
  const Limits& limits() const { return limits_; }

 private:
  Limits limits_;
  std::unordered_map<PoolKey, std::uint32_t, PoolKeyHash> per_pool_;
  std::unordered_map<std::string, std::uint32_t> per_user_;
  std::uint32_t total_ = 0;
};

// "pool.max_connections=4", "pool.max_user_connections=8", "backend.max_connections=100": the
// setting behind a limit, for errors and logs.
std::string DescribeLimit(ConnectionBudget::Limit limit, const ConnectionBudget::Limits& limits);

}  // namespace longlink::pool
