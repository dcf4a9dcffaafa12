// The backend connection pools: one per PoolKey, shared by all worker threads.
//
// A pool holds idle connections as bare descriptors (IdleBackend); a worker that checks one
// out adopts it onto its own event loop, and gives it back detached after a reset. The pool's
// lock is taken only when a session starts or ends, never per query. Limits per pool:
// max_connections open or opening; clients beyond that wait in FIFO order up to queue_timeout.
// A janitor keeps min_idle connections open for every pool that has been used.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "auth/native_password.h"
#include "config/proxy_config.h"
#include "net/socket.h"
#include "pool/backend_connection.h"
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
  Pools(config::SocketAddress backend, config::PoolSettings settings,
        std::chrono::milliseconds connect_timeout);
  ~Pools();
  Pools(const Pools&) = delete;
  Pools& operator=(const Pools&) = delete;

  // A connection of `key` bound to `executor`, logged in with `secret` if a new one is opened.
  // An idle connection whose server side has closed is dropped, never handed out.
  net::Awaitable<Checkout> Acquire(asio::any_io_executor executor, const PoolKey& key,
                                   const auth::PasswordSecret& secret, std::uint64_t session);
  // Resets the connection (COM_RESET_CONNECTION) and returns it to its pool, or closes it if
  // the reset fails. REQUIRES: the connection is between commands (its state is known).
  net::Awaitable<void> Release(std::unique_ptr<BackendConnection> connection,
                               std::uint64_t session);
  // Closes a connection whose state is unknown (client vanished mid-result, protocol error).
  void Discard(std::unique_ptr<BackendConnection> connection);

  // One janitor pass: opens connections until every used pool has min_idle idle ones.
  // Runs on `executor`; call it periodically.
  void Maintain(asio::any_io_executor executor);

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

  net::Awaitable<Checkout> OpenNew(asio::any_io_executor executor, const PoolKey& key,
                                   const auth::PasswordSecret& secret, std::uint64_t session);
  // Binds a connection taken from the pool to `executor` (not under mutex_).
  Checkout AdoptIdle(asio::any_io_executor executor, const PoolKey& key, IdleBackend idle);
  // Under mutex_: a connection of `pool` was closed; lets a waiter open one instead.
  void OnClosedLocked(Pool& pool);
  // Under mutex_: gives `idle` to the first waiter or keeps it.
  void PutIdleLocked(Pool& pool, IdleBackend idle);
  static void Wake(const std::shared_ptr<Waiter>& waiter);

  const config::SocketAddress backend_;
  const config::PoolSettings settings_;
  const std::chrono::milliseconds connect_timeout_;
  mutable std::mutex mutex_;
  std::unordered_map<PoolKey, Pool, PoolKeyHash> pools_;
};

}  // namespace longlink::pool
