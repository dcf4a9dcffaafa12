#include "proxy/statement_shapes.h"

namespace longlink::proxy {

bool IsDdlKeyword(std::string_view keyword) {
  return keyword == "CREATE" || keyword == "ALTER" || keyword == "DROP" || keyword == "RENAME" ||
         keyword == "TRUNCATE" || keyword == "GRANT" || keyword == "REVOKE";
}

std::shared_ptr<const StatementShape> StatementShapes::Find(
    const pool::StatementKeyData& key) const {
  const std::uint64_t now = epoch();
  std::lock_guard lock(mutex_);
  auto [begin, end] = by_hash_.equal_range(key.hash);
  for (auto it = begin; it != end; ++it) {
    const auto& shape = *it->second;
    if (pool::SameStatement(*shape->key, key)) {
      return shape->epoch == now ? shape : nullptr;
    }
  }
  return nullptr;
}

void StatementShapes::Forget(const StatementShape& shape, bool any) {
  std::lock_guard lock(mutex_);
  auto [begin, end] = by_hash_.equal_range(shape.key->hash);
  for (auto it = begin; it != end; ++it) {
    if (any ? pool::SameStatement(*(*it->second)->key, *shape.key) : it->second->get() == &shape) {
      bytes_ -= (*it->second)->bytes();
      order_.erase(it->second);
      by_hash_.erase(it);
      return;
    }
  }
}

void StatementShapes::Add(std::shared_ptr<const StatementShape> shape) {
  std::lock_guard lock(mutex_);
  auto [begin, end] = by_hash_.equal_range(shape->key->hash);
  for (auto it = begin; it != end; ++it) {
    if (pool::SameStatement(*(*it->second)->key, *shape->key)) {
      bytes_ -= (*it->second)->bytes();
      order_.erase(it->second);
      by_hash_.erase(it);
      break;
    }
  }
  bytes_ += shape->bytes();
  const std::uint64_t hash = shape->key->hash;
  order_.push_back(std::move(shape));
  by_hash_.emplace(hash, std::prev(order_.end()));
  while (bytes_ > kMaxBytes && order_.size() > 1) {
    const auto& oldest = order_.front();
    auto [first, last] = by_hash_.equal_range(oldest->key->hash);
    for (auto it = first; it != last; ++it) {
      if (it->second == order_.begin()) {
        by_hash_.erase(it);
        break;
      }
    }
    bytes_ -= oldest->bytes();
    order_.pop_front();
  }
}

}  // namespace longlink::proxy
