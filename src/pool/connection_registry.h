// Every backend connection the pools know, each in exactly one state, held as membership in
// one list per pool and state (PgBouncer's model: a pool's state is its lists' lengths). Closed
// connections are not in it. The registry is bookkeeping only: the sockets of idle
// connections are kept by the pools (Pools), the checked-out ones by their client sessions.
//
// The legal transitions:
//   kOpening  -> kIdle (opened for min_idle), kActive (opened for a client)
//   kIdle     -> kChecking (keepalive ping, checkout), kMoving (checkout by a sibling pool)
//   kChecking -> kIdle (ping answered), kActive (checked out)
//   kMoving   -> kActive (moved and checked out)
//   kActive   -> kIdle (released after a reset)
// and from every state: closed (Close).
//
// A connection is the pool's own (no session) while it opens for min_idle, is idle, or is out
// for a keepalive ping; it is a client session's while it opens for that client, is checked at
// checkout (kChecking), moves to a sibling pool for it (kMoving) or is leased to it (kActive).
// An illegal transition is a programming error: it is logged and refused, and nothing changes.
//
// A plain value, not thread-safe: the pools hold it under their lock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pool/connection_budget.h"
#include "pool/pool_key.h"

namespace longlink::pool {

enum class ConnectionState : std::uint8_t {
  kOpening,   // Connect and login in progress (for min_idle, or for a client).
  kIdle,      // In its pool, ready for a client.
  kChecking,  // Out of the pool for a ping: the janitor's keepalive, or a client's checkout.
  kMoving,    // COM_CHANGE_USER to a sibling pool's collation, for a client.
  kActive,    // Leased to a client session.
};
inline constexpr std::size_t kConnectionStateCount = 5;

// "opening", "idle", "checking", "moving", "active".
std::string_view ToString(ConnectionState state);

// True if a connection may go from `from` to `to` (see the diagram above). Closing is legal from
// every state and is not a transition.
bool IsLegalTransition(ConnectionState from, ConnectionState to);

// The registry's handle of one connection; never reused. 0 means none.
using ConnectionId = std::uint64_t;

// What the registry knows of one connection.
struct ConnectionInfo {
  ConnectionId id = 0;
  PoolKey key = {};  // Its pool (for kMoving: the pool it moves to).
  ConnectionState state = ConnectionState::kOpening;
  std::uint32_t thread_id = 0;  // CONNECTION_ID() on the server; 0 until known (kOpening).
  // The client session it is for: while opening for it, checked or moved for it, or leased to
  // it (kActive). None while it is the pool's own.
  std::optional<std::uint64_t> session = {};
  std::chrono::steady_clock::time_point last_used_at = {};  // Set when it turns idle.
  std::chrono::steady_clock::time_point opened_at = {};     // When it started opening.
  // When it last changed state (for "in this state for ...").
  std::chrono::steady_clock::time_point changed_at = {};
};

class ConnectionRegistry {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // How one connection changes state (Transition).
  struct Change {
    ConnectionState to = ConnectionState::kIdle;
    // kChecking, kMoving, kActive: the client session it is for; 0 for the pool's own (a
    // keepalive ping). Ignored for kIdle (an idle connection is nobody's).
    std::uint64_t session = 0;
    std::uint32_t thread_id = 0;  // If not 0: the server's thread id, now known.
    TimePoint last_used_at = {};  // kIdle: when it was last used (orders eviction).
    // kMoving only: the sibling pool it moves to; REQUIRES CanMoveTo(current key, *move_to).
    std::optional<PoolKey> move_to = {};
  };

  ConnectionRegistry() = default;
  ConnectionRegistry(const ConnectionRegistry&) = delete;
  ConnectionRegistry& operator=(const ConnectionRegistry&) = delete;

  // Registers a connection of `key` that starts opening, for client `session` (0: for the pool
  // itself, min_idle). Counted from now on.
  ConnectionId Open(const PoolKey& key, std::uint64_t session);
  // Moves connection `id` to `change.to`. An idle connection joins the most recently used end
  // of its pool's idle list. False (logged, nothing changed) if `id` is unknown, the transition
  // is illegal, or move_to is set for another state or is not a sibling pool.
  bool Transition(ConnectionId id, const Change& change);
  // Removes connection `id` (closed, or never opened). False (logged) if `id` is unknown.
  bool Close(ConnectionId id);

  std::optional<ConnectionInfo> Find(ConnectionId id) const;
  // The connection whose server thread id is `thread_id` (0 never matches). If two have it (a
  // restarted server reuses numbers), the one that got it last.
  std::optional<ConnectionInfo> FindByThread(std::uint32_t thread_id) const;

  // How many connections of `key` are in `state` (one list's length).
  std::uint32_t Count(const PoolKey& key, ConnectionState state) const;
  // How many of those are the pool's own (no session): opening for min_idle, out for a
  // keepalive ping.
  std::uint32_t CountUnclaimed(const PoolKey& key, ConnectionState state) const;
  // The counts ConnectionBudget checks for one more connection of `key`: its pool's, its user's
  // (all of the user's pools) and all connections, in any state; without connection `excluding`
  // if not 0 (to ask whether closing it would make room).
  ConnectionCounts CountsFor(const PoolKey& key, ConnectionId excluding = 0) const;
  std::uint32_t total() const { return static_cast<std::uint32_t>(by_id_.size()); }
  // How many connections of `key` went from opening to open since start (what the pool cost
  // the server in logins).
  std::uint64_t OpenedCount(const PoolKey& key) const;
  // Every connection, by pool and state (for the admin console's SHOW SERVERS).
  std::vector<ConnectionInfo> All() const;

  // `key`'s idle connections, least recently returned first (the order to retire them in).
  std::vector<ConnectionId> IdleOldestFirst(const PoolKey& key) const;
  // The most recently returned of `key`'s last `limit` returned idle connections for which
  // `wanted(id)` holds, if any.
  template <typename Predicate>
  std::optional<ConnectionId> NewestIdleWhere(const PoolKey& key, std::size_t limit,
                                              Predicate wanted) const {
    const List* idle = FindList(key, ConnectionState::kIdle);
    if (idle == nullptr) return std::nullopt;
    for (auto it = idle->rbegin(); it != idle->rend() && limit > 0; ++it, --limit) {
      if (wanted(it->id)) return it->id;
    }
    return std::nullopt;
  }
  // `key`'s most recently returned idle connection (the one to hand out), if any.
  std::optional<ConnectionId> NewestIdle(const PoolKey& key) const;
  // The most recently returned idle connection of a sibling pool of `key` (CanMoveTo) that has
  // more than `keep` idle, if any.
  std::optional<ConnectionId> NewestSiblingIdle(const PoolKey& key, std::size_t keep) const;
  // The idle connection to close to make room for one more of `key`: among the pools other
  // than `key`'s (only `key.user`'s if `same_user`), each pool's least recently returned one,
  // and of those the one used longest ago. None if there is no idle connection there.
  std::optional<ConnectionId> EvictionCandidate(const PoolKey& key, bool same_user) const;

 private:
  struct Entry {
    ConnectionId id = 0;
    std::uint32_t thread_id = 0;
    std::uint64_t session = 0;
    TimePoint last_used_at = {};
    TimePoint opened_at = {};
    TimePoint changed_at = {};
  };
  using List = std::list<Entry>;
  struct PoolLists {
    std::array<List, kConnectionStateCount> by_state;
    std::uint64_t opened = 0;  // Transitions out of kOpening.
  };
  // Where an entry is: its pool's key (owned by pools_; keys are never erased), state and node.
  struct Location {
    const PoolKey* key = nullptr;
    ConnectionState state = ConnectionState::kOpening;
    List::iterator node;
  };

  List& ListOf(const PoolKey& key, ConnectionState state);
  const List* FindList(const PoolKey& key, ConnectionState state) const;
  ConnectionInfo InfoOf(const Location& location) const;

  std::unordered_map<PoolKey, PoolLists, PoolKeyHash> pools_;
  std::unordered_map<ConnectionId, Location> by_id_;
  std::unordered_map<std::uint32_t, ConnectionId> by_thread_;
  ConnectionId next_id_ = 0;
};

}  // namespace longlink::pool
