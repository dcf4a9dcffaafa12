#include "pool/pool.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <cstring>

#include "common/log.h"
#include "common/log_text.h"

namespace longlink::pool {

namespace {

std::string Milliseconds(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

Pools::Pools(config::BackendSettings backend, config::PoolSettings settings,
             const BackendEndpoint& endpoint)
    : backend_(std::move(backend)),
      endpoint_(endpoint),
      settings_(settings),
      health_(backend_.address.ToString()),
      budget_(ConnectionBudget::Limits{.per_pool = settings.max_connections,
                                       .per_user = settings.max_user_connections != 0
                                                       ? settings.max_user_connections
                                                       : settings.max_connections,
                                       .total = backend_.max_connections}) {}

Pools::~Pools() = default;

void Pools::Start(asio::any_io_executor executor) {
  executor_ = executor;
  asio::co_spawn(executor, watcher_.Run([this](std::span<const std::uint64_t> tokens) {
    OnIdleReadable(tokens);
  }),
                 [](std::exception_ptr) {});
  asio::co_spawn(executor, Janitor(), [](std::exception_ptr) {});
}

void Pools::Stop() {
  std::lock_guard lock(mutex_);
  executor_ = {};  // The loops have stopped: a connection closed from now on closes at once.
  for (auto it = idle_.begin(); it != idle_.end();) it = CloseIdleLocked(it);
  waiters_.clear();
}

void Pools::Wake(const std::shared_ptr<Waiter>& waiter) {
  asio::post(waiter->executor, [waiter] { waiter->timer.cancel(); });
}

ConnectionBudget::Limit Pools::CheckLocked(const PoolKey& key, ConnectionId excluding) const {
  return budget_.Check(registry_.CountsFor(key, excluding));
}

void Pools::CloseLocked(ConnectionId id) {
  registry_.Close(id);
  ServeWaitersLocked();
}

void Pools::ServeWaitersLocked() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    const std::shared_ptr<Waiter>& waiter = *it;
    if (CheckLocked(waiter->key) != ConnectionBudget::Limit::kNone) {
      ++it;
      continue;
    }
    waiter->slot = registry_.Open(waiter->key, waiter->session);  // The waiter opens it.
    waiter->served = true;
    Wake(waiter);
    it = waiters_.erase(it);
  }
}

void Pools::PutIdleLocked(IdleBackend idle) {
  using State = ConnectionState;
  const ConnectionId id = idle.registry_id;
  const PoolKey key = idle.state().key;
  if (!registry_.Transition(id, {.to = State::kIdle,
                                 .thread_id = idle.state().thread_id,
                                 .last_used_at = idle.state().last_used_at})) {
    idle.QuitAndClose(executor_);  // Logged; a connection the registry cannot place is not kept.
    if (registry_.Find(id)) CloseLocked(id);
    return;
  }
  // A waiter of this key, or of a sibling key this connection can move to.
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    const std::shared_ptr<Waiter> waiter = *it;
    const bool sibling = CanMoveTo(key, waiter->key) &&
                         registry_.CountsFor(waiter->key).pool < budget_.limits().per_pool;
    if (waiter->key != key && !sibling) continue;
    ConnectionRegistry::Change change{.to = State::kChecking, .session = waiter->session};
    if (sibling) {
      change.to = State::kMoving;
      change.move_to = waiter->key;
    }
    registry_.Transition(id, change);
    waiters_.erase(it);
    waiter->served = true;
    waiter->idle.emplace(std::move(idle));
    Wake(waiter);
    return;
  }
  // A waiter that the user or total limit blocks: this connection's place is worth more to it.
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    const std::shared_ptr<Waiter> waiter = *it;
    if (CheckLocked(waiter->key, /*excluding=*/id) != ConnectionBudget::Limit::kNone) continue;
    Log(LogLevel::kDebug, 0, "closed idle backend connection {} of pool {} for a client of pool {}",
        idle.state().thread_id, key.ToString(), waiter->key.ToString());
    idle.QuitAndClose(executor_);
    registry_.Close(id);
    waiter->slot = registry_.Open(waiter->key, waiter->session);
    waiters_.erase(it);
    waiter->served = true;
    Wake(waiter);
    return;
  }
  idle.watch_token = 0;  // Watched from the janitor's next pass (see Maintain).
  idle_.insert_or_assign(id, std::move(idle));
}

std::optional<IdleBackend> Pools::TakeIdleLocked(ConnectionId id,
                                                 const ConnectionRegistry::Change& change) {
  auto it = idle_.find(id);
  if (it == idle_.end() || !registry_.Transition(id, change)) return std::nullopt;
  IdleBackend idle = std::move(it->second);
  idle_.erase(it);
  UnwatchLocked(idle);
  return idle;
}

std::optional<IdleBackend> Pools::TakeSiblingIdleLocked(const PoolKey& key, std::uint64_t session,
                                                        bool surplus_only) {
  if (registry_.CountsFor(key).pool >= budget_.limits().per_pool) return std::nullopt;
  const auto id = registry_.NewestSiblingIdle(key, surplus_only ? settings_.min_idle : 0);
  if (!id) return std::nullopt;
  return TakeIdleLocked(*id, {.to = ConnectionState::kMoving, .session = session, .move_to = key});
}

bool Pools::EvictIdleLocked(const PoolKey& key, ConnectionBudget::Limit limit) {
  const auto id = registry_.EvictionCandidate(key, limit == ConnectionBudget::Limit::kUser);
  if (!id) return false;
  auto victim = idle_.find(*id);
  if (victim == idle_.end()) return false;
  Log(LogLevel::kDebug, 0, "closed idle backend connection {} of pool {} ({} reached) for pool {}",
      victim->second.state().thread_id, victim->second.state().key.ToString(),
      DescribeLimit(limit, budget_.limits()), key.ToString());
  CloseIdleLocked(victim);
  return true;
}

void Pools::WatchLocked(IdleBackend& idle) {
  idle.watch_token = ++next_token_;
  if (!watcher_.Add(idle.stream(), idle.watch_token)) {
    Log(LogLevel::kWarning, 0, "cannot watch idle backend connection {}: {}",
        idle.state().thread_id, std::strerror(errno));
  }
}

void Pools::UnwatchLocked(IdleBackend& idle) {
  if (idle.watch_token != 0) watcher_.Remove(idle.stream());
  idle.watch_token = 0;
}

Pools::IdleMap::iterator Pools::CloseIdleLocked(IdleMap::iterator it) {
  const ConnectionId id = it->first;
  UnwatchLocked(it->second);
  it->second.QuitAndClose(executor_);
  registry_.Close(id);
  return idle_.erase(it);
}

void Pools::DropIdleLocked(IdleMap::iterator it) {
  Log(LogLevel::kInfo, 0, "dropped idle backend connection {}: {}", it->second.state().thread_id,
      IdleSocketNews(it->second.stream()));
  const ConnectionId id = it->first;
  UnwatchLocked(it->second);
  idle_.erase(it);  // Closes the descriptor.
  CloseLocked(id);
}

void Pools::OnIdleReadable(std::span<const std::uint64_t> tokens) {
  std::lock_guard lock(mutex_);
  for (const std::uint64_t token : tokens) {
    auto it = std::find_if(idle_.begin(), idle_.end(), [token](const auto& entry) {
      return entry.second.watch_token == token;
    });
    // A TLS connection can turn readable with a record that is not data (a TLS 1.3 session
    // ticket or key update): PeerClosedOrSpoke processes it and says no. The connection
    // stays in the (level-triggered) set, no longer readable.
    if (it != idle_.end() && it->second.PeerClosedOrSpoke()) DropIdleLocked(it);
  }
}

std::optional<ConnectionInfo> Pools::FindByThread(std::uint32_t thread_id) const {
  std::lock_guard lock(mutex_);
  return registry_.FindByThread(thread_id);
}

bool Pools::CloseIdleByThread(std::uint32_t thread_id) {
  std::lock_guard lock(mutex_);
  const auto info = registry_.FindByThread(thread_id);
  if (!info || info->state != ConnectionState::kIdle) return false;
  auto it = idle_.find(info->id);
  if (it == idle_.end()) return false;
  Log(LogLevel::kDebug, 0, "closed idle backend connection {} of pool {} by its thread id",
      thread_id, info->key.ToString());
  CloseIdleLocked(it);
  ServeWaitersLocked();
  return true;
}

net::Awaitable<OpenResult> Pools::OpenOnce(asio::any_io_executor executor, const PoolKey& key,
                                           const auth::LoginSecret& secret) {
  OpenResult opened = co_await BackendConnection::Open(executor, endpoint_, key, secret);
  if (opened.connection) {
    health_.OnSuccess(opened.connection->state().wait_timeout);
    std::lock_guard lock(mutex_);
    fresh_ = FreshSession{.status_flags = opened.connection->state().status_flags,
                          .tracking = opened.connection->state().global_tracking};
  } else if (opened.retryable) {
    health_.OnFailure(opened.error);
  }
  co_return opened;
}

net::Awaitable<Checkout> Pools::OpenNew(asio::any_io_executor executor, const PoolKey& key,
                                        const auth::LoginSecret& secret, std::uint64_t session,
                                        ConnectionId slot) {
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
  if (!opened.connection) {
    CloseLocked(slot);
    checkout.failure = CheckoutFailure::kBackendDown;
    checkout.error = std::move(opened.error);
    checkout.server_error = std::move(opened.server_error);
    co_return checkout;
  }
  secrets_.insert_or_assign(key, secret);
  const std::uint32_t thread_id = opened.connection->state().thread_id;
  registry_.Transition(
      slot, {.to = ConnectionState::kActive, .session = session, .thread_id = thread_id});
  opened.connection->set_registry_id(slot);
  Log(LogLevel::kDebug, session, "opened backend connection {} for pool {}", thread_id,
      key.ToString());
  checkout.connection = std::move(opened.connection);
  co_return checkout;
}

net::Awaitable<std::unique_ptr<BackendConnection>> Pools::AdoptIdle(asio::any_io_executor executor,
                                                                    IdleBackend idle, PoolKey key,
                                                                    std::uint64_t session) {
  const std::uint32_t thread_id = idle.state().thread_id;
  const ConnectionId id = idle.registry_id;
  const bool move = idle.state().key != key;
  std::string why;
  // Right after a reply there is no need to ask (one poll saved per transaction in
  // transaction pooling, where connections change hands within a millisecond).
  const bool just_answered = idle.state().JustHeard(Clock::now());
  if (!just_answered && idle.PeerClosedOrSpoke()) {  // Closed: the watcher has not run yet.
    why = IdleSocketNews(idle.stream());
  } else if (Clock::now() - idle.state().created_at >= settings_.max_lifetime) {
    why = "older than pool.max_lifetime";
    idle.QuitAndClose(executor_);
  } else {
    auto connection = BackendConnection::Adopt(executor, std::move(idle));
    if (!connection) {
      why = "cannot adopt it";
    } else if (move) {
      // From a sibling pool: COM_CHANGE_USER with this pool's collation (a round trip that
      // also proves the connection alive).
      std::optional<auth::LoginSecret> secret;
      {
        std::lock_guard lock(mutex_);
        if (auto it = secrets_.find(key); it != secrets_.end()) secret = it->second;
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
      if (!just_answered) connection->state().quiet_at = Clock::now();  // Just polled.
      co_return connection;
    } else {
      auto alive = co_await connection->Ping(backend_.connect_timeout);
      if (alive.ok()) co_return connection;
      why = "check at checkout failed: " + alive.error().message;
    }
  }
  Log(LogLevel::kInfo, session, "replaced pooled backend connection {}: {}", thread_id, why);
  std::lock_guard lock(mutex_);
  CloseLocked(id);
  co_return nullptr;
}

std::optional<ConnectionId> Pools::PickIdleLocked(const PoolKey& key,
                                                  const asio::any_io_executor& executor,
                                                  std::uint64_t prefer) const {
  const auto where = [&](bool same_session, bool same_loop) {
    return registry_.NewestIdleWhere(key, kPreferLookahead, [&](ConnectionId id) {
      const auto it = idle_.find(id);
      return it != idle_.end() && (!same_session || it->second.state().fingerprint == prefer) &&
             (!same_loop || it->second.stream().AttachedTo(executor));
    });
  };
  std::optional<ConnectionId> pick;
  if (prefer != 0) pick = where(true, true);
  if (!pick && prefer != 0) pick = where(true, false);
  if (!pick) pick = where(false, true);
  if (!pick) pick = registry_.NewestIdle(key);
  return pick;
}

net::Awaitable<Checkout> Pools::Acquire(asio::any_io_executor executor, const PoolKey& key,
                                        const auth::LoginSecret& secret, std::uint64_t session,
                                        std::uint64_t prefer) {
  using Limit = ConnectionBudget::Limit;
  for (;;) {
    std::optional<IdleBackend> idle;
    std::shared_ptr<Waiter> waiter;
    ConnectionId slot = 0;
    {
      std::lock_guard lock(mutex_);
      secrets_.try_emplace(key, secret);
      if (const auto pick = PickIdleLocked(key, executor, prefer))
        idle = TakeIdleLocked(*pick, {.to = ConnectionState::kChecking, .session = session});
      if (!idle) idle = TakeSiblingIdleLocked(key, session, /*surplus_only=*/true);
      if (!idle) {
        Limit limit = CheckLocked(key);
        if (limit != Limit::kNone) idle = TakeSiblingIdleLocked(key, session, false);
        if (!idle && limit != Limit::kNone && limit != Limit::kPool &&
            EvictIdleLocked(key, limit)) {
          limit = CheckLocked(key);
        }
        if (!idle && limit == Limit::kNone) {
          slot = registry_.Open(key, session);
        } else if (!idle) {
          waiter = std::make_shared<Waiter>(executor, key, session);
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
      slot = waiter->slot;  // 0 if a connection was handed over.
    }
    if (!idle) co_return co_await OpenNew(executor, key, secret, session, slot);
    auto connection = co_await AdoptIdle(executor, std::move(*idle), key, session);
    if (connection) {
      std::lock_guard lock(mutex_);
      registry_.Transition(connection->registry_id(),
                           {.to = ConnectionState::kActive, .session = session});
      Checkout checkout;
      checkout.connection = std::move(connection);
      co_return checkout;
    }
    // That one was dead: take another, open one, or wait, as the pool allows.
  }
}

bool Pools::RetireIfDue(std::unique_ptr<BackendConnection>& connection, std::uint64_t session) {
  const bool too_old = Clock::now() - connection->state().created_at >= settings_.max_lifetime;
  const bool own = connection->state().sandboxed || connection->state().key.expired_password;
  if (!too_old && !own) return false;
  Log(LogLevel::kDebug, session, "retiring backend connection {}: {}",
      connection->state().thread_id,
      too_old ? "older than max_lifetime" : "its account's password had expired");
  const ConnectionId id = connection->registry_id();
  std::move(*connection).Park().QuitAndClose(executor_);
  connection.reset();
  std::lock_guard lock(mutex_);
  CloseLocked(id);
  return true;
}

net::Awaitable<void> Pools::Release(std::unique_ptr<BackendConnection> connection,
                                    std::uint64_t session, bool reset) {
  if (RetireIfDue(connection, session)) co_return;
  if (reset) {
    auto done = co_await connection->Reset(backend_.connect_timeout);
    if (!done.ok()) {
      Log(LogLevel::kInfo, session, "closing backend connection {}: reset failed: {}",
          connection->state().thread_id, done.error().message);
      Discard(std::move(connection));
      co_return;
    }
  } else {
    connection->state().last_used_at = Clock::now();
  }
  IdleBackend idle = std::move(*connection).Park();
  connection.reset();
  std::lock_guard lock(mutex_);
  PutIdleLocked(std::move(idle));
}

std::optional<FreshSession> Pools::FreshSessionSeen() const {
  std::lock_guard lock(mutex_);
  return fresh_;
}

ConnectionCountsByState Pools::CountByState(const PoolKey& key) const {
  const Clock::time_point now = Clock::now();
  std::lock_guard lock(mutex_);
  ConnectionCountsByState counts{.idle = registry_.Count(key, ConnectionState::kIdle),
                                 .active = registry_.Count(key, ConnectionState::kActive),
                                 .opening = registry_.Count(key, ConnectionState::kOpening),
                                 .checking = registry_.Count(key, ConnectionState::kChecking),
                                 .moving = registry_.Count(key, ConnectionState::kMoving),
                                 .opened = registry_.OpenedCount(key)};
  for (const auto& waiter : waiters_) {
    if (waiter->served || !(waiter->key == key)) continue;
    counts.longest_wait = std::max(counts.longest_wait, now - waiter->since);
  }
  return counts;
}

std::vector<ConnectionInfo> Pools::Connections() const {
  std::lock_guard lock(mutex_);
  return registry_.All();
}

void Pools::ReleaseKept(std::unique_ptr<BackendConnection> connection, std::uint64_t session) {
  if (RetireIfDue(connection, session)) return;
  connection->state().last_used_at = Clock::now();
  IdleBackend idle = std::move(*connection).Park();
  connection.reset();
  std::lock_guard lock(mutex_);
  PutIdleLocked(std::move(idle));
}

void Pools::Discard(std::unique_ptr<BackendConnection> connection) {
  const ConnectionId id = connection->registry_id();
  connection->stream().Close();
  connection.reset();
  std::lock_guard lock(mutex_);
  CloseLocked(id);
}

std::string PoolKey::ToString() const {
  char caps[32];
  std::snprintf(caps, sizeof caps, "%llx", static_cast<unsigned long long>(capabilities));
  return LogQuoted(user) + "/collation=" + std::to_string(collation) + "/caps=0x" + caps +
         (expired_password ? "/expired-password" : "") +
         (transaction_pooling ? "/transaction" : "");
}

}  // namespace longlink::pool
