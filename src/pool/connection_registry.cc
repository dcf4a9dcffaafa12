#include "pool/connection_registry.h"

#include "common/log.h"

namespace longlink::pool {

namespace {

constexpr std::size_t Index(ConnectionState state) { return static_cast<std::size_t>(state); }

// Forgets that `thread_id` is connection `id`'s, unless a newer connection has the number now (a
// restarted server counts from 1 again while the old connections are not all gone yet).
void Unindex(std::unordered_map<std::uint32_t, ConnectionId>& by_thread, std::uint32_t thread_id,
             ConnectionId id) {
  auto it = by_thread.find(thread_id);
  if (it != by_thread.end() && it->second == id) by_thread.erase(it);
}

}  // namespace

std::string_view ToString(ConnectionState state) {
  switch (state) {
    case ConnectionState::kOpening:
      return "opening";
    case ConnectionState::kIdle:
      return "idle";
    case ConnectionState::kChecking:
      return "checking";
    case ConnectionState::kMoving:
      return "moving";
    case ConnectionState::kActive:
      return "active";
  }
  return "?";
}

bool IsLegalTransition(ConnectionState from, ConnectionState to) {
  using S = ConnectionState;
  switch (from) {
    case S::kOpening:
      return to == S::kIdle || to == S::kActive;
    case S::kIdle:
      return to == S::kChecking || to == S::kMoving;
    case S::kChecking:
      return to == S::kIdle || to == S::kActive;
    case S::kMoving:
      return to == S::kActive;
    case S::kActive:
      return to == S::kIdle;
  }
  return false;
}

ConnectionRegistry::List& ConnectionRegistry::ListOf(const PoolKey& key, ConnectionState state) {
  return pools_[key].by_state[Index(state)];
}

const ConnectionRegistry::List* ConnectionRegistry::FindList(const PoolKey& key,
                                                             ConnectionState state) const {
  auto it = pools_.find(key);
  return it == pools_.end() ? nullptr : &it->second.by_state[Index(state)];
}

ConnectionInfo ConnectionRegistry::InfoOf(const Location& location) const {
  const Entry& entry = *location.node;
  ConnectionInfo info{.id = entry.id,
                      .key = *location.key,
                      .state = location.state,
                      .thread_id = entry.thread_id,
                      .session = std::nullopt,
                      .last_used_at = entry.last_used_at,
                      .opened_at = entry.opened_at,
                      .changed_at = entry.changed_at};
  if (entry.session != 0) info.session = entry.session;
  return info;
}

ConnectionId ConnectionRegistry::Open(const PoolKey& key, std::uint64_t session) {
  const ConnectionId id = ++next_id_;
  auto pool = pools_.try_emplace(key).first;
  List& list = pool->second.by_state[Index(ConnectionState::kOpening)];
  const TimePoint now = std::chrono::steady_clock::now();
  list.push_back(Entry{.id = id,
                       .thread_id = 0,
                       .session = session,
                       .last_used_at = {},
                       .opened_at = now,
                       .changed_at = now});
  by_id_.emplace(id, Location{.key = &pool->first,
                              .state = ConnectionState::kOpening,
                              .node = std::prev(list.end())});
  return id;
}

bool ConnectionRegistry::Transition(ConnectionId id, const Change& change) {
  auto found = by_id_.find(id);
  if (found == by_id_.end()) {
    Log(LogLevel::kError, 0, "internal error: pool connection #{} to {}: not registered", id,
        ToString(change.to));
    return false;
  }
  Location& location = found->second;
  const bool legal = IsLegalTransition(location.state, change.to) &&
                     (!change.move_to || (change.to == ConnectionState::kMoving &&
                                          CanMoveTo(*location.key, *change.move_to))) &&
                     (change.to != ConnectionState::kMoving || change.move_to);
  if (!legal) {
    Log(LogLevel::kError, 0,
        "internal error: pool connection #{} (thread {}): illegal transition {} -> {}", id,
        location.node->thread_id, ToString(location.state), ToString(change.to));
    return false;
  }
  Entry& entry = *location.node;
  if (change.thread_id != 0 && change.thread_id != entry.thread_id) {
    if (entry.thread_id != 0) Unindex(by_thread_, entry.thread_id, id);
    entry.thread_id = change.thread_id;
    by_thread_[entry.thread_id] = id;
  }
  entry.session = change.to == ConnectionState::kIdle ? 0 : change.session;
  if (change.to == ConnectionState::kIdle) entry.last_used_at = change.last_used_at;
  entry.changed_at = std::chrono::steady_clock::now();
  List& from = ListOf(*location.key, location.state);
  if (location.state == ConnectionState::kOpening) ++pools_.find(*location.key)->second.opened;
  auto to_pool =
      change.move_to ? pools_.try_emplace(*change.move_to).first : pools_.find(*location.key);
  List& to = to_pool->second.by_state[Index(change.to)];
  to.splice(to.end(), from, location.node);  // The node and its iterator stay valid.
  location.key = &to_pool->first;
  location.state = change.to;
  return true;
}

bool ConnectionRegistry::Close(ConnectionId id) {
  auto found = by_id_.find(id);
  if (found == by_id_.end()) {
    Log(LogLevel::kError, 0, "internal error: closing pool connection #{}: not registered", id);
    return false;
  }
  const Location& location = found->second;
  if (location.node->thread_id != 0) Unindex(by_thread_, location.node->thread_id, id);
  ListOf(*location.key, location.state).erase(location.node);
  by_id_.erase(found);
  return true;
}

std::optional<ConnectionInfo> ConnectionRegistry::Find(ConnectionId id) const {
  auto found = by_id_.find(id);
  if (found == by_id_.end()) return std::nullopt;
  return InfoOf(found->second);
}

std::optional<ConnectionInfo> ConnectionRegistry::FindByThread(std::uint32_t thread_id) const {
  if (thread_id == 0) return std::nullopt;
  auto found = by_thread_.find(thread_id);
  if (found == by_thread_.end()) return std::nullopt;
  return Find(found->second);
}

std::uint32_t ConnectionRegistry::Count(const PoolKey& key, ConnectionState state) const {
  const List* list = FindList(key, state);
  return list == nullptr ? 0 : static_cast<std::uint32_t>(list->size());
}

std::uint32_t ConnectionRegistry::CountUnclaimed(const PoolKey& key, ConnectionState state) const {
  const List* list = FindList(key, state);
  if (list == nullptr) return 0;
  std::uint32_t count = 0;
  for (const Entry& entry : *list) count += entry.session == 0 ? 1 : 0;
  return count;
}

ConnectionCounts ConnectionRegistry::CountsFor(const PoolKey& key, ConnectionId excluding) const {
  ConnectionCounts counts;
  for (const auto& [pool_key, lists] : pools_) {
    if (pool_key.user != key.user) continue;
    std::uint32_t in_pool = 0;
    for (const List& list : lists.by_state) in_pool += static_cast<std::uint32_t>(list.size());
    counts.user += in_pool;
    if (pool_key == key) counts.pool = in_pool;
  }
  counts.total = total();
  if (auto found = by_id_.find(excluding); excluding != 0 && found != by_id_.end()) {
    const PoolKey& other = *found->second.key;
    if (other == key) --counts.pool;
    if (other.user == key.user) --counts.user;
    --counts.total;
  }
  return counts;
}

std::uint64_t ConnectionRegistry::OpenedCount(const PoolKey& key) const {
  auto found = pools_.find(key);
  return found == pools_.end() ? 0 : found->second.opened;
}

std::vector<ConnectionInfo> ConnectionRegistry::All() const {
  std::vector<ConnectionInfo> out;
  out.reserve(by_id_.size());
  for (const auto& [id, location] : by_id_) out.push_back(InfoOf(location));
  return out;
}

std::vector<ConnectionId> ConnectionRegistry::IdleOldestFirst(const PoolKey& key) const {
  std::vector<ConnectionId> ids;
  if (const List* idle = FindList(key, ConnectionState::kIdle)) {
    ids.reserve(idle->size());
    for (const Entry& entry : *idle) ids.push_back(entry.id);
  }
  return ids;
}

std::optional<ConnectionId> ConnectionRegistry::NewestIdle(const PoolKey& key) const {
  const List* idle = FindList(key, ConnectionState::kIdle);
  if (idle == nullptr || idle->empty()) return std::nullopt;
  return idle->back().id;
}

std::optional<ConnectionId> ConnectionRegistry::NewestSiblingIdle(const PoolKey& key,
                                                                  std::size_t keep) const {
  for (const auto& [sibling_key, lists] : pools_) {
    const List& idle = lists.by_state[Index(ConnectionState::kIdle)];
    if (!CanMoveTo(sibling_key, key) || idle.size() <= keep) continue;
    return idle.back().id;
  }
  return std::nullopt;
}

std::optional<ConnectionId> ConnectionRegistry::EvictionCandidate(const PoolKey& key,
                                                                  bool same_user) const {
  const Entry* victim = nullptr;
  for (const auto& [other_key, lists] : pools_) {
    const List& idle = lists.by_state[Index(ConnectionState::kIdle)];
    if (idle.empty() || other_key == key) continue;
    if (same_user && other_key.user != key.user) continue;
    if (victim == nullptr || idle.front().last_used_at < victim->last_used_at) {
      victim = &idle.front();
    }
  }
  if (victim == nullptr) return std::nullopt;
  return victim->id;
}

}  // namespace longlink::pool
