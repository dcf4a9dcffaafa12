#include "proxy/worker_sessions.h"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include "pool/pool.h"
#include "proxy/client_session.h"

namespace longlink::proxy {

net::Awaitable<void> WorkerSessions::Sweep() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(pool::Pools::kJanitorInterval);
    auto [error] = co_await timer.async_wait(net::kNoThrow);
    if (error) co_return;
    const auto now = pool::Clock::now();
    for (ClientSession* session : sessions_) session->CheckIdleBackend(now);
  }
}

}  // namespace longlink::proxy
