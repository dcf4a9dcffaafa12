#include "pool/pool.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <cstring>

#include "common/log.h"

namespace longlink::pool {

namespace {

std::string Milliseconds(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

Pools::Pools(config::BackendSettings backend, config::PoolSettings settings)
    : backend_(std::move(backend)), settings_(settings), health_(backend_.address.ToString()) {}

Pools::~Pools() = default;

void Pools::Start(asio::any_io_executor executor) {
  asio::co_spawn(executor, watcher_.Run([this](std::span<const std::uint64_t> tokens) {
    OnIdleReadable(tokens);
  }),
                 [](std::exception_ptr) {});
  asio::co_spawn(executor, Janitor(), [](std::exception_ptr) {});
}

Clock::duration Pools::KeepaliveInterval(const BackendState& state) const {
  Clock::duration interval = settings_.keepalive_interval;
  if (state.wait_timeout > 0) {
    interval = std::min<Clock::duration>(
        interval, std::chrono::milliseconds(std::uint64_t{state.wait_timeout} * 1000 / 2));
  }
  return interval;
}

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
  idle.watch_token = 0;  // Watched from the janitor's next pass (see Maintain).
  pool.idle.push_back(std::move(idle));
}

void Pools::WatchLocked(IdleBackend& idle) {
  idle.watch_token = ++next_token_;
  if (!watcher_.Add(idle.fd(), idle.watch_token)) {
    Log(LogLevel::kWarning, 0, "cannot watch idle backend connection {}: {}",
        idle.state().thread_id, std::strerror(errno));
  }
}

void Pools::UnwatchLocked(IdleBackend& idle) {
  if (idle.watch_token != 0) watcher_.Remove(idle.fd());
  idle.watch_token = 0;
}

std::optional<IdleBackend> Pools::TakeIdleLocked(Pool& pool) {
  if (pool.idle.empty()) return std::nullopt;
  IdleBackend idle = std::move(pool.idle.back());
  pool.idle.pop_back();
  UnwatchLocked(idle);
  return idle;
}

std::deque<IdleBackend>::iterator Pools::DropIdleLocked(Pool& pool,
                                                        std::deque<IdleBackend>::iterator it) {
  Log(LogLevel::kInfo, 0, "dropped idle backend connection {}: {}", it->state().thread_id,
      IdleSocketNews(it->fd()));
  UnwatchLocked(*it);
  auto next = pool.idle.erase(it);  // Closes the descriptor.
  OnClosedLocked(pool);
  return next;
}

void Pools::OnIdleReadable(std::span<const std::uint64_t> tokens) {
  std::lock_guard lock(mutex_);
  for (const std::uint64_t token : tokens) {
    for (auto& [key, pool] : pools_) {
      auto it = std::find_if(pool.idle.begin(), pool.idle.end(),
                             [token](const IdleBackend& i) { return i.watch_token == token; });
      if (it == pool.idle.end()) continue;
      DropIdleLocked(pool, it);
      break;
    }
  }
}

net::Awaitable<OpenResult> Pools::OpenOnce(asio::any_io_executor executor, const PoolKey& key,
                                           const auth::PasswordSecret& secret) {
  OpenResult opened = co_await BackendConnection::Open(executor, backend_.address, key, secret,
                                                       backend_.connect_timeout);
  if (opened.connection) {
    health_.OnSuccess();
  } else if (opened.retryable) {
    health_.OnFailure(opened.error);
  }
  co_return opened;
}

net::Awaitable<Checkout> Pools::OpenNew(asio::any_io_executor executor, const PoolKey& key,
                                        const auth::PasswordSecret& secret, std::uint64_t session) {
  const auto give_up_at = Clock::now() + backend_.retry_timeout;
  OpenResult opened;
  for (int attempt = 1;; ++attempt) {
    opened = co_await OpenOnce(executor, key, secret);
    if (opened.connection || !opened.retryable) break;
    const auto now = Clock::now();
    if (now >= give_up_at) {
      opened.error += " (retried for " + Milliseconds(backend_.retry_timeout) + ")";
      break;
    }
    asio::steady_timer pause(
        executor, std::min<Clock::duration>(BackendHealth::Backoff(attempt), give_up_at - now));
    co_await pause.async_wait(net::kNoThrow);
  }
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

net::Awaitable<std::unique_ptr<BackendConnection>> Pools::AdoptIdle(asio::any_io_executor executor,
                                                                    IdleBackend idle,
                                                                    std::uint64_t session) {
  const PoolKey key = idle.state().key;
  const std::uint32_t thread_id = idle.state().thread_id;
  std::string why;
  if (idle.PeerClosedOrSpoke()) {  // Closed just now: the watcher has not run yet.
    why = IdleSocketNews(idle.fd());
  } else if (Clock::now() - idle.state().created_at >= settings_.max_lifetime) {
    why = "older than pool.max_lifetime";
    idle.QuitAndClose();
  } else {
    auto connection = BackendConnection::Adopt(executor, std::move(idle));
    if (!connection) {
      why = "cannot adopt it";
    } else if (Clock::now() - connection->state().last_alive_at < settings_.check_delay) {
      connection->state().quiet_at = Clock::now();  // Just polled.
      co_return connection;
    } else {
      auto alive = co_await connection->Ping(backend_.connect_timeout);
      if (alive.ok()) co_return connection;
      why = "check at checkout failed: " + alive.error().message;
    }
  }
  Log(LogLevel::kInfo, session, "replaced pooled backend connection {}: {}", thread_id, why);
  std::lock_guard lock(mutex_);
  OnClosedLocked(pools_[key]);
  co_return nullptr;
}

net::Awaitable<Checkout> Pools::Acquire(asio::any_io_executor executor, const PoolKey& key,
                                        const auth::PasswordSecret& secret, std::uint64_t session) {
  for (;;) {
    std::optional<IdleBackend> idle;
    std::shared_ptr<Waiter> waiter;
    {
      std::lock_guard lock(mutex_);
      Pool& pool = pools_[key];
      if (!pool.secret) pool.secret = secret;
      idle = TakeIdleLocked(pool);
      if (!idle) {
        if (pool.open < settings_.max_connections) {
          ++pool.open;
        } else {
          waiter = std::make_shared<Waiter>(executor);
          waiter->timer.expires_after(settings_.queue_timeout);
          pool.waiters.push_back(waiter);
        }
      }
    }
    if (waiter) {
      co_await waiter->timer.async_wait(net::kNoThrow);
      std::unique_lock lock(mutex_);
      if (!waiter->served) {
        pools_[key].waiters.remove(waiter);
        Checkout checkout;
        checkout.failure = CheckoutFailure::kPoolFull;
        checkout.error = "no backend connection came free within " +
                         Milliseconds(settings_.queue_timeout) + " (pool " + key.user +
                         " is at max_connections=" + std::to_string(settings_.max_connections) +
                         ")";
        co_return checkout;
      }
      idle = std::move(waiter->idle);  // Else a slot was granted.
    }
    if (!idle) co_return co_await OpenNew(executor, key, secret, session);
    auto connection = co_await AdoptIdle(executor, std::move(*idle), session);
    if (connection) {
      Checkout checkout;
      checkout.connection = std::move(connection);
      co_return checkout;
    }
    // That one was dead: take another, open one, or wait, as the pool allows.
  }
}

net::Awaitable<void> Pools::Release(std::unique_ptr<BackendConnection> connection,
                                    std::uint64_t session) {
  if (Clock::now() - connection->state().created_at >= settings_.max_lifetime) {
    Log(LogLevel::kDebug, session, "retiring backend connection {}: older than max_lifetime",
        connection->state().thread_id);
    const PoolKey key = connection->state().key;
    std::move(*connection).Detach().QuitAndClose();
    std::lock_guard lock(mutex_);
    OnClosedLocked(pools_[key]);
    co_return;
  }
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

net::Awaitable<void> Pools::Janitor() {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  for (;;) {
    Maintain(executor);
    timer.expires_after(kJanitorInterval);
    auto [error] = co_await timer.async_wait(net::kNoThrow);
    if (error) co_return;
  }
}

net::Awaitable<void> Pools::KeepAlive(asio::any_io_executor executor, IdleBackend idle) {
  const PoolKey key = idle.state().key;
  const std::uint32_t thread_id = idle.state().thread_id;
  auto connection = BackendConnection::Adopt(executor, std::move(idle));
  std::string why = "cannot adopt it";
  if (connection) {
    auto alive = co_await connection->Ping(backend_.connect_timeout);
    if (alive.ok()) {
      IdleBackend back = std::move(*connection).Detach();
      std::lock_guard lock(mutex_);
      PutIdleLocked(pools_[key], std::move(back));
      co_return;
    }
    why = alive.error().message;
  }
  Log(LogLevel::kInfo, 0, "closed idle backend connection {}: keepalive ping failed: {}", thread_id,
      why);
  connection.reset();
  std::lock_guard lock(mutex_);
  OnClosedLocked(pools_[key]);
}

void Pools::Maintain(asio::any_io_executor executor) {
  const auto now = Clock::now();
  std::vector<IdleBackend> to_ping;
  std::vector<std::pair<PoolKey, auth::PasswordSecret>> to_open;
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, pool] : pools_) {
      // Oldest first: those are the ones to retire beyond min_idle.
      for (auto it = pool.idle.begin(); it != pool.idle.end();) {
        const BackendState& state = it->state();
        const char* retire = nullptr;
        if (now - state.created_at >= settings_.max_lifetime) {
          retire = "older than pool.max_lifetime";
        } else if (now - state.last_used_at >= settings_.max_idle_time &&
                   pool.idle.size() > settings_.min_idle) {
          retire = "unused for pool.max_idle_time";
        }
        if (retire != nullptr) {
          Log(LogLevel::kDebug, 0, "closed idle backend connection {}: {}", state.thread_id,
              retire);
          UnwatchLocked(*it);
          it->QuitAndClose();
          it = pool.idle.erase(it);
          OnClosedLocked(pool);
        } else if (now - state.last_alive_at >= KeepaliveInterval(state)) {
          UnwatchLocked(*it);
          to_ping.push_back(std::move(*it));  // Still counted in `open`.
          it = pool.idle.erase(it);
        } else if (it->PeerClosedOrSpoke()) {  // Closed before it was watched.
          it = DropIdleLocked(pool, it);
        } else {
          if (it->watch_token == 0) WatchLocked(*it);
          ++it;
        }
      }
      if (!pool.secret || !health_.MayTry(now)) continue;
      while (pool.idle.size() + pool.opening_for_idle < settings_.min_idle &&
             pool.open < settings_.max_connections && pool.waiters.empty()) {
        ++pool.open;
        ++pool.opening_for_idle;
        to_open.emplace_back(key, *pool.secret);
      }
    }
  }
  for (auto& idle : to_ping) {
    asio::co_spawn(executor, KeepAlive(executor, std::move(idle)), [](std::exception_ptr) {});
  }
  for (auto& [key, secret] : to_open) {
    asio::co_spawn(
        executor,
        [this, executor, key = key, secret = secret]() -> net::Awaitable<void> {
          OpenResult opened = co_await OpenOnce(executor, key, secret);
          std::lock_guard lock(mutex_);
          Pool& pool = pools_[key];
          --pool.opening_for_idle;
          if (!opened.connection) {
            OnClosedLocked(pool);
            if (!opened.retryable) {
              Log(LogLevel::kWarning, 0, "cannot keep min_idle for pool {}: {}", key.ToString(),
                  opened.error);
            }
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
