#include "pool/connection_budget.h"

namespace longlink::pool {

ConnectionBudget::Limit ConnectionBudget::Check(const PoolKey& key) const {
  if (pool(key) >= limits_.per_pool) return Limit::kPool;
  if (user(key.user) >= limits_.per_user) return Limit::kUser;
  if (total_ >= limits_.total) return Limit::kTotal;
  return Limit::kNone;
}

void ConnectionBudget::Add(const PoolKey& key) {
  ++per_pool_[key];
  ++per_user_[key.user];
  ++total_;
}

void ConnectionBudget::Remove(const PoolKey& key) {
  if (auto it = per_pool_.find(key); it != per_pool_.end() && --it->second == 0) {
    per_pool_.erase(it);
  }
  if (auto it = per_user_.find(key.user); it != per_user_.end() && --it->second == 0) {
    per_user_.erase(it);
  }
  if (total_ > 0) --total_;
}

std::uint32_t ConnectionBudget::pool(const PoolKey& key) const {
  auto it = per_pool_.find(key);
  return it == per_pool_.end() ? 0 : it->second;
}

std::uint32_t ConnectionBudget::user(const std::string& name) const {
  auto it = per_user_.find(name);
  return it == per_user_.end() ? 0 : it->second;
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
