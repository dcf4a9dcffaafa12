#include "proxy/worker_sessions.h"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <bit>
#include <cstdint>

#include "pool/pool.h"
#include "proxy/client_session.h"

namespace longlink::proxy {

bool WorkerSessions::Watch(ClientSession* session, int fd) {
  return watcher_.Add(fd, std::bit_cast<std::uint64_t>(session));
}

net::Awaitable<void> WorkerSessions::Sweep() {
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(executor, watcher_.Run([this](std::span<const std::uint64_t> tokens) {
    for (const std::uint64_t token : tokens) {
      auto* session = std::bit_cast<ClientSession*>(token);
      // Sessions leave the set before they end; the lookup is a second guard.
      if (sessions_.contains(session)) session->OnBackendReadable();
    }
  }),
                 [](std::exception_ptr) {});
  asio::steady_timer timer(executor);
  for (;;) {
    timer.expires_after(pool::Pools::kJanitorInterval);
    auto [error] = co_await timer.async_wait(net::kNoThrow);
    if (error) co_return;
    const auto now = pool::Clock::now();
    for (ClientSession* session : sessions_) session->CheckIdleBackend(now);
  }
}

}  // namespace longlink::proxy
