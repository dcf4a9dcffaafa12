#include "pool/pool.h"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>

#include "common/log.h"

namespace longlink::pool {

Pools::Pools(config::SocketAddress backend, config::PoolSettings settings,
             std::chrono::milliseconds connect_timeout)
    : backend_(std::move(backend)), settings_(settings), connect_timeout_(connect_timeout) {}

Pools::~Pools() = default;

void Pools::Wake(const std::shared_ptr<Waiter>& waiter) {
  asio::post(waiter->executor, [waiter] { waiter->timer.cancel(); });
}

void Pools::OnClosedLocked(Pool& pool) {
  --pool.open;
  if (!pool.waiters.empty()) {
    auto waiter = pool.waiters.front();
    pool.waiters.pop_front();
    ++pool.open;  // Counted for the waiter, which opens it.
    waiter->served = true;
    waiter->slot_granted = true;
    Wake(waiter);
  }
}

void Pools::PutIdleLocked(Pool& pool, IdleBackend idle) {
  if (!pool.waiters.empty()) {
    auto waiter = pool.waiters.front();
    pool.waiters.pop_front();
    waiter->served = true;
    waiter->idle.emplace(std::move(idle));
    Wake(waiter);
    return;
  }
  pool.idle.push_back(std::move(idle));
}

net::Awaitable<Checkout> Pools::OpenNew(asio::any_io_executor executor, const PoolKey& key,
                                        const auth::PasswordSecret& secret, std::uint64_t session) {
  OpenResult opened =
      co_await BackendConnection::Open(executor, backend_, key, secret, connect_timeout_);
  Checkout checkout;
  std::lock_guard lock(mutex_);
  Pool& pool = pools_[key];
  if (!opened.connection) {
    OnClosedLocked(pool);
    checkout.failure = CheckoutFailure::kBackendDown;
    checkout.error = std::move(opened.error);
    checkout.server_error = std::move(opened.server_error);
    co_return checkout;
  }
  pool.secret = secret;
  Log(LogLevel::kDebug, session, "opened backend connection {} for pool {}",
      opened.connection->state().thread_id, key.ToString());
  checkout.connection = std::move(opened.connection);
  co_return checkout;
}

Checkout Pools::AdoptIdle(asio::any_io_executor executor, const PoolKey& key, IdleBackend idle) {
  Checkout checkout;
  checkout.connection = BackendConnection::Adopt(executor, std::move(idle));
  if (!checkout.connection) {
    std::lock_guard lock(mutex_);
    OnClosedLocked(pools_[key]);
    checkout.failure = CheckoutFailure::kBackendDown;
    checkout.error = "cannot adopt a pooled connection";
  }
  return checkout;
}

net::Awaitable<Checkout> Pools::Acquire(asio::any_io_executor executor, const PoolKey& key,
                                        const auth::PasswordSecret& secret, std::uint64_t session) {
  std::shared_ptr<Waiter> waiter;
  {
    std::unique_lock lock(mutex_);
    Pool& pool = pools_[key];
    if (!pool.secret) pool.secret = secret;
    while (!pool.idle.empty()) {
      IdleBackend idle = std::move(pool.idle.back());
      pool.idle.pop_back();
      if (idle.PeerClosedOrSpoke()) {
        Log(LogLevel::kInfo, session, "dropped idle backend connection {}: the server closed it",
            idle.state().thread_id);
        OnClosedLocked(pool);
        continue;  // IdleBackend closes the descriptor.
      }
      lock.unlock();
      co_return AdoptIdle(executor, key, std::move(idle));
    }
    if (pool.open < settings_.max_connections) {
      ++pool.open;
      lock.unlock();
      co_return co_await OpenNew(executor, key, secret, session);
    }
    waiter = std::make_shared<Waiter>(executor);
    waiter->timer.expires_after(settings_.queue_timeout);
    pool.waiters.push_back(waiter);
  }

  co_await waiter->timer.async_wait(net::kNoThrow);
  std::unique_lock lock(mutex_);
  Pool& pool = pools_[key];
  if (!waiter->served) {
    pool.waiters.remove(waiter);
    Checkout checkout;
    checkout.failure = CheckoutFailure::kPoolFull;
    checkout.error = "no backend connection came free within " +
                     std::to_string(settings_.queue_timeout.count()) + " ms (pool " + key.user +
                     " is at max_connections=" + std::to_string(settings_.max_connections) + ")";
    co_return checkout;
  }
  if (waiter->idle) {
    IdleBackend idle = std::move(*waiter->idle);
    lock.unlock();
    co_return AdoptIdle(executor, key, std::move(idle));
  }
  lock.unlock();
  co_return co_await OpenNew(executor, key, secret, session);
}

net::Awaitable<void> Pools::Release(std::unique_ptr<BackendConnection> connection,
                                    std::uint64_t session) {
  auto reset = co_await connection->Reset();
  if (!reset.ok()) {
    Log(LogLevel::kInfo, session, "closing backend connection {}: reset failed: {}",
        connection->state().thread_id, reset.error().message);
    Discard(std::move(connection));
    co_return;
  }
  const PoolKey key = connection->state().key;
  IdleBackend idle = std::move(*connection).Detach();
  connection.reset();
  std::lock_guard lock(mutex_);
  PutIdleLocked(pools_[key], std::move(idle));
}

void Pools::Discard(std::unique_ptr<BackendConnection> connection) {
  const PoolKey key = connection->state().key;
  std::error_code ignored;
  connection->socket().close(ignored);
  connection.reset();
  std::lock_guard lock(mutex_);
  OnClosedLocked(pools_[key]);
}

void Pools::Maintain(asio::any_io_executor executor) {
  std::vector<std::pair<PoolKey, auth::PasswordSecret>> to_open;
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, pool] : pools_) {
      // Drop idle connections the server has closed.
      for (auto it = pool.idle.begin(); it != pool.idle.end();) {
        if (it->PeerClosedOrSpoke()) {
          Log(LogLevel::kInfo, 0, "dropped idle backend connection {}: the server closed it",
              it->state().thread_id);
          it = pool.idle.erase(it);
          OnClosedLocked(pool);
        } else {
          ++it;
        }
      }
      if (!pool.secret) continue;
      while (pool.idle.size() + pool.opening_for_idle < settings_.min_idle &&
             pool.open < settings_.max_connections && pool.waiters.empty()) {
        ++pool.open;
        ++pool.opening_for_idle;
        to_open.emplace_back(key, *pool.secret);
      }
    }
  }
  for (auto& [key, secret] : to_open) {
    asio::co_spawn(
        executor,
        [this, executor, key, secret]() -> net::Awaitable<void> {
          OpenResult opened =
              co_await BackendConnection::Open(executor, backend_, key, secret, connect_timeout_);
          std::lock_guard lock(mutex_);
          Pool& pool = pools_[key];
          --pool.opening_for_idle;
          if (!opened.connection) {
            OnClosedLocked(pool);
            Log(LogLevel::kWarning, 0, "cannot keep min_idle for pool {}: {}", key.ToString(),
                opened.error);
            co_return;
          }
          PutIdleLocked(pool, std::move(*opened.connection).Detach());
        },
        [](std::exception_ptr) {});
  }
}

std::string PoolKey::ToString() const {
  char caps[32];
  std::snprintf(caps, sizeof caps, "%llx", static_cast<unsigned long long>(capabilities));
  return user + "/collation=" + std::to_string(collation) + "/caps=0x" + caps;
}

}  // namespace longlink::pool
