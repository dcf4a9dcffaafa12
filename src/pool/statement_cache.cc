#include "pool/statement_cache.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace longlink::pool {

StatementKey MakeStatementKey(std::string text, std::string context) {
  auto key = std::make_shared<StatementKeyData>();
  const std::size_t h = std::hash<std::string>()(text);
  key->hash = h ^ (std::hash<std::string>()(context) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  key->text = std::move(text);
  key->context = std::move(context);
  return key;
}

bool SameStatement(const StatementKeyData& a, const StatementKeyData& b) {
  return &a == &b || (a.hash == b.hash && a.text == b.text && a.context == b.context);
}

std::optional<std::uint32_t> StatementCache::Find(const StatementKeyData& key,
                                                  std::uint64_t owner) {
  // One the owner holds (its long data or cursor is there) comes before a free one.
  Entry* found = nullptr;
  for (Entry& entry : entries_) {
    if ((entry.owner == 0 || entry.owner == owner) && SameStatement(*entry.key, key)) {
      found = &entry;
      if (entry.owner == owner && owner != 0) break;
    }
  }
  if (found == nullptr) return std::nullopt;
  found->last_used = ++clock_;
  return found->server_id;
}

std::size_t StatementCache::Add(StatementKey key, std::uint32_t server_id, std::uint64_t owner,
                                std::size_t capacity) {
  entries_.push_back(
      Entry{.key = std::move(key), .server_id = server_id, .owner = owner, .last_used = ++clock_});
  return Evict(std::max<std::size_t>(capacity, 1));
}

std::size_t StatementCache::MakeRoom(std::size_t capacity) {
  return Evict(std::max<std::size_t>(capacity, 1) - 1);
}

std::size_t StatementCache::Evict(std::size_t keep) {
  std::size_t evicted = 0;
  while (entries_.size() > keep) {
    auto oldest = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->owner == 0 && (oldest == entries_.end() || it->last_used < oldest->last_used)) {
        oldest = it;
      }
    }
    if (oldest == entries_.end()) break;  // Every entry is in use: over capacity for now.
    closes_.push_back(oldest->server_id);
    entries_.erase(oldest);
    ++evicted;
  }
  return evicted;
}

void StatementCache::SetOwner(std::uint32_t server_id, std::uint64_t owner) {
  for (Entry& entry : entries_) {
    if (entry.server_id == server_id) entry.owner = owner;
  }
}

void StatementCache::Drop(std::uint32_t server_id) {
  const auto erased = std::erase_if(
      entries_, [server_id](const Entry& entry) { return entry.server_id == server_id; });
  if (erased > 0) closes_.push_back(server_id);
}

void StatementCache::Disown(std::uint64_t owner, bool drop) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->owner != owner) {
      ++it;
      continue;
    }
    if (drop) {
      closes_.push_back(it->server_id);
      it = entries_.erase(it);
    } else {
      it->owner = 0;
      ++it;
    }
  }
}

std::vector<std::uint32_t> StatementCache::TakeCloses() { return std::exchange(closes_, {}); }

void StatementCache::Clear() {
  entries_.clear();
  closes_.clear();
}

}  // namespace longlink::pool
