// The pools' janitor (Pools::Janitor, pool.h): every kJanitorInterval it retires idle
// connections past max_lifetime, or past max_idle_time beyond min_idle; pings those due for a
// keepalive (KeepaliveInterval: before the server's wait_timeout); drops those the server
// closed before the idle watcher saw them, and starts watching the rest; and opens connections
// up to min_idle for every pool that has been used.
#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <tuple>
#include <vector>

#include "common/log.h"
#include "pool/pool.h"

namespace longlink::pool {

Clock::duration Pools::KeepaliveInterval(const BackendState& state) const {
  Clock::duration interval = settings_.keepalive_interval;
  if (state.wait_timeout > 0) {
    interval = std::min<Clock::duration>(
        interval, std::chrono::milliseconds(std::uint64_t{state.wait_timeout} * 1000 / 2));
  }
  return interval;
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
  const ConnectionId id = idle.registry_id;
  const std::uint32_t thread_id = idle.state().thread_id;
  auto connection = BackendConnection::Adopt(executor, std::move(idle));
  std::string why = "cannot adopt it";
  if (connection) {
    auto alive = co_await connection->Ping(backend_.connect_timeout);
    if (alive.ok()) {
      IdleBackend back = std::move(*connection).Park();
      std::lock_guard lock(mutex_);
      PutIdleLocked(std::move(back));
      co_return;
    }
    why = alive.error().message;
  }
  Log(LogLevel::kInfo, 0, "closed idle backend connection {}: keepalive ping failed: {}", thread_id,
      why);
  connection.reset();
  std::lock_guard lock(mutex_);
  CloseLocked(id);
}

void Pools::Maintain(asio::any_io_executor executor) {
  using State = ConnectionState;
  const auto now = Clock::now();
  std::vector<IdleBackend> to_ping;
  std::vector<std::tuple<ConnectionId, PoolKey, auth::LoginSecret>> to_open;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, secret] : secrets_) {
      // Oldest first: those are the ones to retire beyond min_idle.
      for (const ConnectionId id : registry_.IdleOldestFirst(key)) {
        auto it = idle_.find(id);
        if (it == idle_.end()) continue;
        const BackendState& state = it->second.state();
        const char* retire = nullptr;
        if (now - state.created_at >= settings_.max_lifetime) {
          retire = "older than pool.max_lifetime";
        } else if (now - state.last_used_at >= settings_.max_idle_time &&
                   registry_.Count(key, State::kIdle) +
                           registry_.CountUnclaimed(key, State::kChecking) >
                       settings_.min_idle) {
          retire = "unused for pool.max_idle_time";
        }
        if (retire != nullptr) {
          Log(LogLevel::kDebug, 0, "closed idle backend connection {}: {}", state.thread_id,
              retire);
          CloseIdleLocked(it);
          ServeWaitersLocked();
        } else if (now - state.last_alive_at >= KeepaliveInterval(state)) {
          // Still counted, and as the pool's own (a keepalive ping: no session).
          if (auto idle = TakeIdleLocked(id, {.to = State::kChecking})) {
            to_ping.push_back(std::move(*idle));
          }
        } else if (it->second.PeerClosedOrSpoke()) {  // Closed before it was watched.
          DropIdleLocked(it);
        } else if (it->second.watch_token == 0) {
          WatchLocked(it->second);
        }
      }
      if (!health_.MayTry(now)) continue;
      while (registry_.Count(key, State::kIdle) + registry_.CountUnclaimed(key, State::kOpening) +
                     registry_.CountUnclaimed(key, State::kChecking) <
                 settings_.min_idle &&
             CheckLocked(key) == ConnectionBudget::Limit::kNone && waiters_.empty()) {
        to_open.emplace_back(registry_.Open(key, /*session=*/0), key, secret);
      }
    }
  }
  for (auto& idle : to_ping) {
    asio::co_spawn(executor, KeepAlive(executor, std::move(idle)), [](std::exception_ptr) {});
  }
  for (auto& [id, key, secret] : to_open) {
    asio::co_spawn(
        executor,
        [this, executor, id = id, key = key, secret = secret]() -> net::Awaitable<void> {
          OpenResult opened = co_await OpenOnce(executor, key, secret);
          std::lock_guard lock(mutex_);
          if (!opened.connection) {
            CloseLocked(id);
            if (!opened.retryable) {
              Log(LogLevel::kWarning, 0, "cannot keep min_idle for pool {}: {}", key.ToString(),
                  opened.error);
            }
            co_return;
          }
          IdleBackend idle = std::move(*opened.connection).Park();
          idle.registry_id = id;
          PutIdleLocked(std::move(idle));
        },
        [](std::exception_ptr) {});
  }
}

}  // namespace longlink::pool
