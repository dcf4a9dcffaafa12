#include "pool/connection_budget.h"

namespace longlink::pool {

ConnectionBudget::Limit ConnectionBudget::Check(const ConnectionCounts& counts) const {
  if (counts.pool >= limits_.per_pool) return Limit::kPool;
  if (counts.user >= limits_.per_user) return Limit::kUser;
  if (counts.total >= limits_.total) return Limit::kTotal;
  return Limit::kNone;
}

std::string DescribeLimit(ConnectionBudget::Limit limit, const ConnectionBudget::Limits& limits) {
  switch (limit) {
    case ConnectionBudget::Limit::kNone:
      return "no limit";
    case ConnectionBudget::Limit::kPool:
      return "pool.max_connections=" + std::to_string(limits.per_pool);
    case ConnectionBudget::Limit::kUser:
      return "pool.max_user_connections=" + std::to_string(limits.per_user);
    case ConnectionBudget::Limit::kTotal:
      return "backend.max_connections=" + std::to_string(limits.total);
  }
  return "?";
}

}  // namespace longlink::pool
