// The backend connection pools: one per PoolKey, shared by all worker threads.
//
// A pool holds idle connections as bare descriptors (IdleBackend); a worker that checks one
// out adopts it onto its own event loop, and gives it back detached after a reset. The pool's
// lock is taken only when a session starts or ends, never per query. Limits per pool:
// max_connections open or opening; clients beyond that wait in FIFO order up to queue_timeout.
//
// Never a dead connection (docs/OPERATIONS.md): idle sockets are watched (IdleWatcher; from
// the janitor's first pass after they come back), so one the server closes leaves the pool at
// once; a janitor pings idle connections before the server's wait_timeout
// (KeepaliveInterval), retires them after max_idle_time (beyond min_idle) or max_lifetime,
// and keeps min_idle open for every pool that has been used; a connection idle longer than
// check_delay is pinged at checkout and replaced if that fails.
// While the server cannot be reached, a checkout retries with backoff for up to
// backend.retry_timeout (BackendHealth rate-limits the logs).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "auth/native_password.h"
#include "config/proxy_config.h"
#include "net/socket.h"
#include "pool/backend_connection.h"
#include "pool/backend_health.h"
#include "pool/idle_watcher.h"
#include "pool/pool_key.h"

namespace longlink::pool {

// Why a checkout failed.
enum class CheckoutFailure {
  kNone,
  kPoolFull,     // No connection came free within queue_timeout.
  kBackendDown,  // Connecting or logging in failed (error says why; server_error if any).
};

struct Checkout {
  std::unique_ptr<BackendConnection> connection = {};
  CheckoutFailure failure = CheckoutFailure::kNone;
  std::string error = {};
  std::optional<protocol::ErrPacket> server_error = {};
};

class Pools {
 public:
  Pools(config::BackendSettings backend, config::PoolSettings settings);
  ~Pools();
  Pools(const Pools&) = delete;
  Pools& operator=(const Pools&) = delete;

  // Starts the idle watcher and the janitor on `executor` (one worker's loop). Call once.
  void Start(asio::any_io_executor executor);

  // A connection of `key` bound to `executor`, logged in with `secret` if a new one is opened.
  // An idle connection whose server side has closed is dropped, never handed out; one idle
  // longer than check_delay is pinged first. While the server is unreachable, retries for up
  // to retry_timeout.
  net::Awaitable<Checkout> Acquire(asio::any_io_executor executor, const PoolKey& key,
                                   const auth::PasswordSecret& secret, std::uint64_t session);
  // Resets the connection (COM_RESET_CONNECTION) and returns it to its pool, or closes it if
  // the reset fails. REQUIRES: the connection is between commands (its state is known).
  net::Awaitable<void> Release(std::unique_ptr<BackendConnection> connection,
                               std::uint64_t session);
  // Closes a connection whose state is unknown (client vanished mid-result, protocol error).
  void Discard(std::unique_ptr<BackendConnection> connection);

  // How long a connection may go without a round trip before it is pinged:
  // min(keepalive_interval, half the connection's @@wait_timeout).
  Clock::duration KeepaliveInterval(const BackendState& state) const;

  // How often the janitor runs.
  static constexpr std::chrono::milliseconds kJanitorInterval{250};

 private:
  struct Waiter {
    explicit Waiter(asio::any_io_executor where) : executor(where), timer(where) {}
    asio::any_io_executor executor;
    asio::steady_timer timer;
    bool served = false;              // Under mutex_: idle or slot_granted is set.
    std::optional<IdleBackend> idle;  // A connection handed over.
    bool slot_granted = false;        // Allowed to open a new connection.
  };
  struct Pool {
    std::deque<IdleBackend> idle;  // Most recently used at the back.
    std::uint32_t open = 0;
    std::uint32_t opening_for_idle = 0;
    std::list<std::shared_ptr<Waiter>> waiters;
    std::optional<auth::PasswordSecret> secret;  // For the janitor.
  };

  // Opens a connection for a slot already counted in `open`; retries retryable failures with
  // backoff until retry_timeout. On failure the slot is given back.
  net::Awaitable<Checkout> OpenNew(asio::any_io_executor executor, const PoolKey& key,
                                   const auth::PasswordSecret& secret, std::uint64_t session);
  // Binds a connection taken from the pool to `executor` and checks it if it was idle longer
  // than check_delay. Null (and the slot given back) if it is unusable.
  net::Awaitable<std::unique_ptr<BackendConnection>> AdoptIdle(asio::any_io_executor executor,
                                                               IdleBackend idle,
                                                               std::uint64_t session);
  // One attempt to open a connection, reported to health_.
  net::Awaitable<OpenResult> OpenOnce(asio::any_io_executor executor, const PoolKey& key,
                                      const auth::PasswordSecret& secret);
  // Under mutex_: a connection of `pool` was closed; lets a waiter open one instead.
  void OnClosedLocked(Pool& pool);
  // Under mutex_: drops an idle connection the server closed or spoke on (logs what it said);
  // returns the next position in pool.idle.
  std::deque<IdleBackend>::iterator DropIdleLocked(Pool& pool,
                                                   std::deque<IdleBackend>::iterator it);
  // Under mutex_: gives `idle` to the first waiter or keeps it (watched).
  void PutIdleLocked(Pool& pool, IdleBackend idle);
  // Under mutex_: starts or stops watching an idle connection. A connection put back is
  // watched from the janitor's next pass: a busy pool churns without epoll_ctl calls, and the
  // checkout poll covers the gap.
  void WatchLocked(IdleBackend& idle);
  void UnwatchLocked(IdleBackend& idle);
  // Under mutex_: takes the most recently used idle connection out of `pool` (unwatched).
  std::optional<IdleBackend> TakeIdleLocked(Pool& pool);
  // The watcher saw these idle connections turn readable: the server closed them or spoke.
  void OnIdleReadable(std::span<const std::uint64_t> tokens);
  // One janitor pass: retires and pings idle connections, refills min_idle.
  void Maintain(asio::any_io_executor executor);
  // Pings an idle connection taken out by the janitor and puts it back, or closes it.
  net::Awaitable<void> KeepAlive(asio::any_io_executor executor, IdleBackend idle);
  net::Awaitable<void> Janitor();
  static void Wake(const std::shared_ptr<Waiter>& waiter);

  const config::BackendSettings backend_;
  const config::PoolSettings settings_;
  BackendHealth health_;
  IdleWatcher watcher_;
  mutable std::mutex mutex_;
  std::unordered_map<PoolKey, Pool, PoolKeyHash> pools_;
  std::uint64_t next_token_ = 0;  // Under mutex_.
};

}  // namespace longlink::pool
