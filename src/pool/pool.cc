#include "pool/pool.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <cstring>

#include "common/log.h"
#include "common/log_text.h"

namespace longlink::pool {

namespace {

std::string Milliseconds(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

Pools::Pools(config::BackendSettings backend, config::PoolSettings settings)
    : backend_(std::move(backend)),
      settings_(settings),
      health_(backend_.address.ToString()),
      budget_(ConnectionBudget::Limits{.per_pool = settings.max_connections,
                                       .per_user = settings.max_user_connections != 0
                                                       ? settings.max_user_connections
                                                       : settings.max_connections,
                                       .total = backend_.max_connections}) {}

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

void Pools::OnClosedLocked(const PoolKey& key) {
  budget_.Remove(key);
  ServeWaitersLocked();
}

void Pools::ServeWaitersLocked() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    const std::shared_ptr<Waiter>& waiter = *it;
    if (budget_.Check(waiter->key) != ConnectionBudget::Limit::kNone) {
      ++it;
      continue;
    }
    budget_.Add(waiter->key);  // Counted for the waiter, which opens it.
    waiter->served = true;
    waiter->slot_granted = true;
    Wake(waiter);
    it = waiters_.erase(it);
  }
}

void Pools::PutIdleLocked(IdleBackend idle) {
  const PoolKey key = idle.state().key;
  // A waiter of this key, or of a sibling key this connection can move to.
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    const std::shared_ptr<Waiter> waiter = *it;
    const bool sibling =
        CanMoveTo(key, waiter->key) && budget_.pool(waiter->key) < budget_.limits().per_pool;
    if (waiter->key != key && !sibling) continue;
    if (sibling) {
      budget_.Remove(key);
      budget_.Add(waiter->key);
    }
    waiters_.erase(it);
    waiter->served = true;
    waiter->idle.emplace(std::move(idle));
    Wake(waiter);
    return;
  }
  // A waiter that the user or total limit blocks: this connection's place is worth more to it.
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    const std::shared_ptr<Waiter> waiter = *it;
    budget_.Remove(key);
    if (budget_.Check(waiter->key) != ConnectionBudget::Limit::kNone) {
      budget_.Add(key);
      continue;
    }
    Log(LogLevel::kDebug, 0, "closed idle backend connection {} of pool {} for a client of pool {}",
        idle.state().thread_id, key.ToString(), waiter->key.ToString());
    idle.QuitAndClose();
    budget_.Add(waiter->key);
    waiters_.erase(it);
    waiter->served = true;
    waiter->slot_granted = true;
    Wake(waiter);
    return;
  }
  idle.watch_token = 0;  // Watched from the janitor's next pass (see Maintain).
  pools_[key].idle.push_back(std::move(idle));
}

std::optional<IdleBackend> Pools::TakeSiblingIdleLocked(const PoolKey& key, bool surplus_only) {
  if (budget_.pool(key) >= budget_.limits().per_pool) return std::nullopt;
  for (auto& [sibling_key, sibling] : pools_) {
    if (!CanMoveTo(sibling_key, key) || sibling.idle.empty()) continue;
    if (surplus_only && sibling.idle.size() <= settings_.min_idle) continue;
    std::optional<IdleBackend> idle = TakeIdleLocked(sibling);
    budget_.Remove(sibling_key);
    budget_.Add(key);
    return idle;
  }
  return std::nullopt;
}

bool Pools::EvictIdleLocked(const PoolKey& key, ConnectionBudget::Limit limit) {
  Pool* victim_pool = nullptr;
  for (auto& [other_key, other] : pools_) {
    if (other.idle.empty() || other_key == key) continue;
    if (limit == ConnectionBudget::Limit::kUser && other_key.user != key.user) continue;
    if (victim_pool == nullptr ||
        other.idle.front().state().last_used_at < victim_pool->idle.front().state().last_used_at) {
      victim_pool = &other;
    }
  }
  if (victim_pool == nullptr) return false;
  IdleBackend& victim = victim_pool->idle.front();
  const PoolKey victim_key = victim.state().key;
  Log(LogLevel::kDebug, 0, "closed idle backend connection {} of pool {} ({} reached) for pool {}",
      victim.state().thread_id, victim_key.ToString(), DescribeLimit(limit, budget_.limits()),
      key.ToString());
  UnwatchLocked(victim);
  victim.QuitAndClose();
  victim_pool->idle.pop_front();
  budget_.Remove(victim_key);
  return true;
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
  const PoolKey key = it->state().key;
  auto next = pool.idle.erase(it);  // Closes the descriptor.
  OnClosedLocked(key);
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
    OnClosedLocked(key);
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
                                                                    IdleBackend idle, PoolKey key,
                                                                    std::uint64_t session) {
  const std::uint32_t thread_id = idle.state().thread_id;
  const bool move = idle.state().key != key;
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
    } else if (move) {
      // From a sibling pool: COM_CHANGE_USER with this pool's collation (a round trip that
      // also proves the connection alive).
      std::optional<auth::PasswordSecret> secret;
      {
        std::lock_guard lock(mutex_);
        secret = pools_[key].secret;
      }
      const PoolKey from = connection->state().key;
      Status moved = Error{"no secret for the pool"};
      if (secret) {
        auto change = connection->ChangeUser(*secret, key.collation);
        moved = co_await std::move(change);
      }
      if (moved.ok()) {
        Log(LogLevel::kDebug, session, "moved backend connection {} from pool {} to pool {}",
            thread_id, from.ToString(), key.ToString());
        co_return connection;
      }
      why = "moving it to collation " + std::to_string(key.collation) +
            " failed: " + moved.error().message;
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
  OnClosedLocked(key);
  co_return nullptr;
}

net::Awaitable<Checkout> Pools::Acquire(asio::any_io_executor executor, const PoolKey& key,
                                        const auth::PasswordSecret& secret, std::uint64_t session) {
  using Limit = ConnectionBudget::Limit;
  for (;;) {
    std::optional<IdleBackend> idle;
    std::shared_ptr<Waiter> waiter;
    bool open_new = false;
    {
      std::lock_guard lock(mutex_);
      Pool& pool = pools_[key];
      if (!pool.secret) pool.secret = secret;
      idle = TakeIdleLocked(pool);
      if (!idle) idle = TakeSiblingIdleLocked(key, /*surplus_only=*/true);
      if (!idle) {
        Limit limit = budget_.Check(key);
        if (limit != Limit::kNone) idle = TakeSiblingIdleLocked(key, /*surplus_only=*/false);
        if (!idle && limit != Limit::kNone && limit != Limit::kPool &&
            EvictIdleLocked(key, limit)) {
          limit = budget_.Check(key);
        }
        if (!idle && limit == Limit::kNone) {
          budget_.Add(key);
          open_new = true;
        } else if (!idle) {
          waiter = std::make_shared<Waiter>(executor, key);
          waiter->blocked_by = limit;
          waiter->timer.expires_after(settings_.queue_timeout);
          waiters_.push_back(waiter);
        }
      }
    }
    if (waiter) {
      co_await waiter->timer.async_wait(net::kNoThrow);
      std::unique_lock lock(mutex_);
      if (!waiter->served) {
        waiters_.remove(waiter);
        Checkout checkout;
        checkout.failure = CheckoutFailure::kPoolFull;
        checkout.error = "no backend connection came free within " +
                         Milliseconds(settings_.queue_timeout) + " (pool " + LogQuoted(key.user) +
                         " is at " + DescribeLimit(waiter->blocked_by, budget_.limits()) + ")";
        co_return checkout;
      }
      idle = std::move(waiter->idle);
      open_new = !idle;  // Else a slot was granted.
    }
    if (open_new) co_return co_await OpenNew(executor, key, secret, session);
    auto connection = co_await AdoptIdle(executor, std::move(*idle), key, session);
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
    OnClosedLocked(key);
    co_return;
  }
  auto reset = co_await connection->Reset(backend_.connect_timeout);
  if (!reset.ok()) {
    Log(LogLevel::kInfo, session, "closing backend connection {}: reset failed: {}",
        connection->state().thread_id, reset.error().message);
    Discard(std::move(connection));
    co_return;
  }
  IdleBackend idle = std::move(*connection).Detach();
  connection.reset();
  std::lock_guard lock(mutex_);
  PutIdleLocked(std::move(idle));
}

void Pools::Discard(std::unique_ptr<BackendConnection> connection) {
  const PoolKey key = connection->state().key;
  std::error_code ignored;
  connection->socket().close(ignored);
  connection.reset();
  std::lock_guard lock(mutex_);
  OnClosedLocked(key);
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
      --pools_[key].pinging;
      PutIdleLocked(std::move(back));
      co_return;
    }
    why = alive.error().message;
  }
  Log(LogLevel::kInfo, 0, "closed idle backend connection {}: keepalive ping failed: {}", thread_id,
      why);
  connection.reset();
  std::lock_guard lock(mutex_);
  --pools_[key].pinging;
  OnClosedLocked(key);
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
                   pool.idle.size() + pool.pinging > settings_.min_idle) {
          retire = "unused for pool.max_idle_time";
        }
        if (retire != nullptr) {
          Log(LogLevel::kDebug, 0, "closed idle backend connection {}: {}", state.thread_id,
              retire);
          UnwatchLocked(*it);
          it->QuitAndClose();
          it = pool.idle.erase(it);
          OnClosedLocked(key);
        } else if (now - state.last_alive_at >= KeepaliveInterval(state)) {
          UnwatchLocked(*it);
          to_ping.push_back(std::move(*it));  // Still counted, and as the pool's (pinging).
          ++pool.pinging;
          it = pool.idle.erase(it);
        } else if (it->PeerClosedOrSpoke()) {  // Closed before it was watched.
          it = DropIdleLocked(pool, it);
        } else {
          if (it->watch_token == 0) WatchLocked(*it);
          ++it;
        }
      }
      if (!pool.secret || !health_.MayTry(now)) continue;
      while (pool.idle.size() + pool.opening_for_idle + pool.pinging < settings_.min_idle &&
             budget_.Check(key) == ConnectionBudget::Limit::kNone && waiters_.empty()) {
        budget_.Add(key);
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
            OnClosedLocked(key);
            if (!opened.retryable) {
              Log(LogLevel::kWarning, 0, "cannot keep min_idle for pool {}: {}", key.ToString(),
                  opened.error);
            }
            co_return;
          }
          PutIdleLocked(std::move(*opened.connection).Detach());
        },
        [](std::exception_ptr) {});
  }
}

std::string PoolKey::ToString() const {
  char caps[32];
  std::snprintf(caps, sizeof caps, "%llx", static_cast<unsigned long long>(capabilities));
  return LogQuoted(user) + "/collation=" + std::to_string(collation) + "/caps=0x" + caps;
}

}  // namespace longlink::pool
