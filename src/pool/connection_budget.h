// The limits on how many backend connections may exist (in any state, opening included),
// counted three ways: per pool (pool.max_connections), per user across all of its pools
// (pool.max_user_connections) and in all (backend.max_connections). A pool is one user with one
// collation and set of capability flags, so without the user and total limits a client could
// take one user past the server's max_connections by cycling collations or flags. The counts
// come from the ConnectionRegistry (CountsFor).
#pragma once

#include <cstdint>
#include <string>

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

  // The first limit (pool, user, total) that one more connection would pass, given `counts`.
  Limit Check(const ConnectionCounts& counts) const;
  const Limits& limits() const { return limits_; }

 private:
  Limits limits_;
};

// "pool.max_connections=4", "pool.max_user_connections=8", "backend.max_connections=100": the
// setting behind a limit, for errors and logs.
std::string DescribeLimit(ConnectionBudget::Limit limit, const ConnectionBudget::Limits& limits);

}  // namespace longlink::pool
