// The backend connection pools: one per PoolKey, shared by all worker threads.
//
// A pool holds idle connections as detached streams (IdleBackend); a worker that checks one
// out adopts it onto its own event loop, and gives it back detached after a reset. The pool's
// lock is taken only when a session starts or ends, never per query.
//
// Every connection the pools know is in one state of a ConnectionRegistry (opening, idle,
// checking, moving, active: connection_registry.h); the counts below are that registry's.
//
// Limits (ConnectionBudget): connections open or opening per pool (pool.max_connections), per
// user across its pools (pool.max_user_connections) and in all (backend.max_connections).
// Pools of one user and capabilities that differ only in collation share idle connections: one
// moves by COM_CHANGE_USER with the new collation (which later resets restore), when its pool
// has more than min_idle idle or when a limit stops a new one. At the user or total limit, an
// idle connection of another pool is closed to make room. Clients that still find none wait
// in one FIFO queue (all pools) up to queue_timeout.
//
// Never a dead connection (docs/OPERATIONS.md): idle sockets are watched (IdleWatcher; from
// the janitor's first pass after they come back), so one the server closes leaves the pool at
// once; a janitor pings idle connections before the server's wait_timeout
// (KeepaliveInterval), retires them after max_idle_time (beyond min_idle) or max_lifetime,
// and keeps min_idle open for every pool that has been used (a connection out for its ping
// still counts: an idle proxy holds exactly min_idle per pool and opens none); a connection
// idle longer than check_delay is pinged at checkout and replaced if that fails.
// While the server cannot be reached, a checkout retries with backoff for up to
// backend.retry_timeout (BackendHealth rate-limits the logs).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "auth/login_secret.h"
#include "config/proxy_config.h"
#include "net/socket.h"
#include "pool/backend_connection.h"
#include "pool/backend_endpoint.h"
#include "pool/backend_health.h"
#include "pool/connection_budget.h"
#include "pool/connection_registry.h"
#include "pool/idle_watcher.h"
#include "pool/pool_key.h"

namespace longlink::pool {

// Why a checkout failed.
enum class CheckoutFailure {
  kNone,
  kPoolFull,     // No connection came free within queue_timeout.
  kBackendDown,  // Connecting or logging in failed (error says why; server_error if any).
};

// One pool's connections by state (ConnectionRegistry), how many it opened since start, and
// the longest its clients wait now.
struct ConnectionCountsByState {
  std::uint32_t idle = 0;
  std::uint32_t active = 0;  // Leased to clients.
  std::uint32_t opening = 0;
  std::uint32_t checking = 0;
  std::uint32_t moving = 0;
  std::uint64_t opened = 0;
  Clock::duration longest_wait = {};  // Of a client queued at the limits; zero if none.
};

// What a new session of the server starts with, as the last connection opened saw it: its
// login's status flags (autocommit, ...) and the server's global tracker settings. A client
// logged in without a backend (ClientSession) is answered with these.
struct FreshSession {
  std::uint16_t status_flags = 0;
  TrackerSettings tracking = {};
};

struct Checkout {
  std::unique_ptr<BackendConnection> connection = {};
  CheckoutFailure failure = CheckoutFailure::kNone;
  std::string error = {};
  std::optional<protocol::ErrPacket> server_error = {};
};

class Pools {
 public:
  // `endpoint` outlives the pools.
  Pools(config::BackendSettings backend, config::PoolSettings settings,
        const BackendEndpoint& endpoint);
  ~Pools();
  Pools(const Pools&) = delete;
  Pools& operator=(const Pools&) = delete;

  // Starts the idle watcher and the janitor on `executor` (one worker's loop), where retired
  // connections also wait for the server to close its end (IdleBackend::QuitAndClose). Call
  // once.
  void Start(asio::any_io_executor executor);
  // Closes every idle connection at once (COM_QUIT sent, the server's end not waited for) and
  // forgets the clients that wait. Call once every loop has stopped and before any is
  // destroyed: an idle connection's stream, and a waiter's timer, may be bound to one.
  void Stop();

  // A connection of `key` bound to `executor`, logged in with `secret` if a new one is opened.
  // An idle connection whose server side has closed is dropped, never handed out; one idle
  // longer than check_delay is pinged first. While the server is unreachable, retries for up
  // to retry_timeout.
  // The connection returned is registered as active for `session` (REQUIRES: not 0) until it
  // comes back through Release, ReleaseKept or Discard.
  // `prefer` (not 0): among the most recently returned idle connections, one whose
  // BackendState::fingerprint is this is taken first (its session already matches); then one
  // that `executor`'s loop used last (PickIdleLocked).
  net::Awaitable<Checkout> Acquire(asio::any_io_executor executor, const PoolKey& key,
                                   const auth::LoginSecret& secret, std::uint64_t session,
                                   std::uint64_t prefer = 0);
  // Returns the connection to its pool. With `reset`, resets it first (COM_RESET_CONNECTION:
  // a round trip) and closes it if the reset fails; without, it goes back as it is, and the
  // next session resets it with its first command (session pooling: the session left nothing
  // on the server that must not wait, such as a transaction or a lock). REQUIRES: the
  // connection is between commands (its state is known), and came from Acquire.
  net::Awaitable<void> Release(std::unique_ptr<BackendConnection> connection, std::uint64_t session,
                               bool reset);
  // Returns the connection to its pool as it is, without a reset (transaction pooling: its
  // session state is known, in its BackendState, and the next client's differences are
  // applied with its first command). Retired instead past max_lifetime or if sandboxed.
  // REQUIRES: between commands, no transaction open, from Acquire.
  void ReleaseKept(std::unique_ptr<BackendConnection> connection, std::uint64_t session);
  // Closes a connection whose state is unknown (client vanished mid-result, protocol error).
  // REQUIRES: it came from Acquire.
  void Discard(std::unique_ptr<BackendConnection> connection);

  // What the pools know of the backend connection whose CONNECTION_ID() is `thread_id`: its
  // state, pool key and, once it is checked out (or being checked out, or opened) for a client,
  // that session. None if it is not one of the pools' connections (or is still opening).
  // Thread-safe.
  std::optional<ConnectionInfo> FindByThread(std::uint32_t thread_id) const;
  // If the connection with CONNECTION_ID() `thread_id` is idle in a pool, takes it out and
  // closes it (COM_QUIT) and returns true; the janitor refills min_idle as for any other.
  // False, with nothing done, if it is not one of the pools' or is not idle (opening, checking,
  // moving, or leased to a session). Thread-safe.
  bool CloseIdleByThread(std::uint32_t thread_id);

  // `key`'s connections by state now. Thread-safe.
  ConnectionCountsByState CountByState(const PoolKey& key) const;
  // Every connection the pools know (SHOW SERVERS). Thread-safe.
  std::vector<ConnectionInfo> Connections() const;
  // Whether the server is reachable, connects and failures since start. Thread-safe.
  BackendHealthSnapshot Health() const { return health_.Snapshot(); }
  // What the last connection opened started with; none before the first. Thread-safe.
  std::optional<FreshSession> FreshSessionSeen() const;

  // How long a connection may go without a round trip before it is pinged:
  // min(keepalive_interval, half the connection's @@wait_timeout).
  Clock::duration KeepaliveInterval(const BackendState& state) const;

  // How many of the most recently returned idle connections Acquire looks at for `prefer`.
  static constexpr std::size_t kPreferLookahead = 8;
  // How often the janitor runs.
  static constexpr std::chrono::milliseconds kJanitorInterval{250};

 private:
  struct Waiter {
    Waiter(asio::any_io_executor where, PoolKey wanted, std::uint64_t for_session)
        : executor(where),
          timer(where),
          key(std::move(wanted)),
          session(for_session),
          since(Clock::now()) {}
    asio::any_io_executor executor;
    asio::steady_timer timer;
    const PoolKey key;                // The pool it waits for.
    const std::uint64_t session;      // The client session that waits.
    const Clock::time_point since;    // When it started to wait.
    bool served = false;              // Under mutex_: idle or slot is set.
    std::optional<IdleBackend> idle;  // A connection handed over (checking or moving for it).
    ConnectionId slot = 0;            // Allowed to open a new connection (registered opening).
    ConnectionBudget::Limit blocked_by = ConnectionBudget::Limit::kNone;  // For the error.
  };
  using IdleMap = std::unordered_map<ConnectionId, IdleBackend>;

  // Opens a connection for `slot` (registered opening); retries retryable failures with
  // backoff until retry_timeout. On failure the slot is given back; on success the connection
  // is active for `session`.
  net::Awaitable<Checkout> OpenNew(asio::any_io_executor executor, const PoolKey& key,
                                   const auth::LoginSecret& secret, std::uint64_t session,
                                   ConnectionId slot);
  // Binds a connection taken from a pool (checking or moving for `key` already) to `executor`,
  // checks it if it was idle longer than check_delay, and moves it to `key`'s collation if it
  // came from a sibling pool. Null (and the connection closed) if it is unusable.
  net::Awaitable<std::unique_ptr<BackendConnection>> AdoptIdle(asio::any_io_executor executor,
                                                               IdleBackend idle, PoolKey key,
                                                               std::uint64_t session);
  // Under mutex_: which idle connection of `key` a checkout on `executor` takes. Among the
  // kPreferLookahead most recently returned: the first whose fingerprint is `prefer` (not 0)
  // and that `executor`'s loop used last, else the first with that fingerprint, else the first
  // that loop used last (adopting it costs no system call: BackendConnection::Adopt); else
  // the most recently returned. None if the pool has no idle connection.
  std::optional<ConnectionId> PickIdleLocked(const PoolKey& key,
                                             const asio::any_io_executor& executor,
                                             std::uint64_t prefer) const;
  // Closes a connection on its way back if it is past max_lifetime or must not be shared
  // (sandboxed); true if it did (`connection` is then null).
  bool RetireIfDue(std::unique_ptr<BackendConnection>& connection, std::uint64_t session);
  // One attempt to open a connection, reported to health_.
  net::Awaitable<OpenResult> OpenOnce(asio::any_io_executor executor, const PoolKey& key,
                                      const auth::LoginSecret& secret);
  // Under mutex_: the budget check for one more connection of `key` (without connection
  // `excluding` if not 0).
  ConnectionBudget::Limit CheckLocked(const PoolKey& key, ConnectionId excluding = 0) const;
  // Under mutex_: connection `id` was closed (or never opened); lets waiters open one instead.
  void CloseLocked(ConnectionId id);
  // Under mutex_: grants a new connection to every waiter, in order, that the limits allow.
  void ServeWaitersLocked();
  // Under mutex_: closes the idle connection at `it` (COM_QUIT) and forgets it, without serving
  // waiters; returns the next position.
  IdleMap::iterator CloseIdleLocked(IdleMap::iterator it);
  // Under mutex_: drops an idle connection the server closed or spoke on (logs what it said).
  void DropIdleLocked(IdleMap::iterator it);
  // Under mutex_: `idle` (opening, checking or active) turns idle: given to the first waiter it
  // can serve (its own key, or a sibling's), or closed for a waiter that a user or total limit
  // blocks, or kept.
  void PutIdleLocked(IdleBackend idle);
  // Under mutex_: takes idle connection `id` out of its pool (unwatched) into `change`'s state.
  std::optional<IdleBackend> TakeIdleLocked(ConnectionId id,
                                            const ConnectionRegistry::Change& change);
  // Under mutex_: an idle connection of a sibling pool of `key` (same user and capabilities,
  // another collation), moving to `key` for `session`; with `surplus_only`, only from a pool
  // that has more than min_idle idle. Not if `key`'s pool is at max_connections.
  std::optional<IdleBackend> TakeSiblingIdleLocked(const PoolKey& key, std::uint64_t session,
                                                   bool surplus_only);
  // Under mutex_: closes the least recently used idle connection that counts against `limit`
  // for `key` (the same user's for kUser, any for kTotal). False if there is none.
  bool EvictIdleLocked(const PoolKey& key, ConnectionBudget::Limit limit);
  // Under mutex_: starts or stops watching an idle connection. A connection put back is
  // watched from the janitor's next pass: a busy pool churns without epoll_ctl calls, and the
  // checkout poll covers the gap.
  void WatchLocked(IdleBackend& idle);
  void UnwatchLocked(IdleBackend& idle);
  // The watcher saw these idle connections turn readable: the server closed them or spoke.
  void OnIdleReadable(std::span<const std::uint64_t> tokens);
  // One janitor pass (pool_janitor.cc): retires and pings idle connections, refills min_idle.
  void Maintain(asio::any_io_executor executor);
  // Pings an idle connection taken out by the janitor and puts it back, or closes it.
  net::Awaitable<void> KeepAlive(asio::any_io_executor executor, IdleBackend idle);
  net::Awaitable<void> Janitor();
  static void Wake(const std::shared_ptr<Waiter>& waiter);

  const config::BackendSettings backend_;
  const BackendEndpoint& endpoint_;
  const config::PoolSettings settings_;
  BackendHealth health_;
  IdleWatcher watcher_;
  const ConnectionBudget budget_;
  asio::any_io_executor executor_;  // Start's, set before any connection exists; none after Stop.
  mutable std::mutex mutex_;
  // Under mutex_: every pool used since start, with the secret to log in with (for the
  // janitor and moves between keys).
  std::unordered_map<PoolKey, auth::LoginSecret, PoolKeyHash> secrets_;
  ConnectionRegistry registry_;  // Under mutex_: every connection's state.
  IdleMap idle_;                 // Under mutex_: the sockets of the idle connections.
  std::list<std::shared_ptr<Waiter>> waiters_;  // Under mutex_; every pool's, in arrival order.
  std::uint64_t next_token_ = 0;                // Under mutex_.
  std::optional<FreshSession> fresh_;           // Under mutex_.
};

}  // namespace longlink::pool
