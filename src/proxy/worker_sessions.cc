#include "proxy/worker_sessions.h"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>

#include "pool/pool.h"
#include "proxy/client_session.h"

namespace longlink::proxy {

std::size_t WorkerSessions::Add(std::uint64_t id, ClientSession* session) {
  sessions_.emplace(id, session);
  if (free_.empty()) {
    due_.push_back(Due{.session = session});
    return due_.size() - 1;
  }
  const std::size_t slot = free_.back();
  free_.pop_back();
  due_[slot] = Due{.session = session};
  return slot;
}

void WorkerSessions::Remove(std::uint64_t id, std::size_t slot) {
  sessions_.erase(id);
  due_[slot] = Due{};
  free_.push_back(slot);
  load_.fetch_sub(1, std::memory_order_relaxed);
}

bool WorkerSessions::Watch(std::uint64_t id, const net::ByteStream& backend) {
  return watcher_.Add(backend, id);
}

void WorkerSessions::Start(asio::any_io_executor executor) {
  executor_ = executor;
  asio::co_spawn(executor, watcher_.Run([this](std::span<const std::uint64_t> ids) {
    for (const std::uint64_t id : ids) {
      // Sessions leave the set before they end; the lookup is a second guard.
      if (auto it = sessions_.find(id); it != sessions_.end()) {
        it->second->OnBackendReadable();
      }
    }
  }),
                 [](std::exception_ptr) {});
  asio::co_spawn(executor, Sweep(), [](std::exception_ptr) {});
}

net::Awaitable<void> WorkerSessions::Sweep() {
  asio::steady_timer timer(executor_);
  for (;;) {
    timer.expires_after(pool::Pools::kJanitorInterval);
    auto [error] = co_await timer.async_wait(net::kNoThrow);
    if (error) co_return;
    const auto now = pool::Clock::now();
    // OnSweep ends nothing at once (a session ends on its loop later): due_ stays as it is.
    for (Due& due : due_) {
      if (due.session != nullptr && due.at <= now) due.at = due.session->OnSweep(now);
    }
  }
}

net::Awaitable<std::optional<std::pair<WorkerSessions*, SessionView>>> WorkerSessions::Find(
    std::vector<WorkerSessions*> workers, std::uint64_t id) {
  for (WorkerSessions* worker : workers) {
    auto lookup = worker->ViewOf(id);
    auto visit = asio::co_spawn(worker->executor_, std::move(lookup), net::kNoThrow);
    auto [failure, view] = co_await std::move(visit);
    if (!failure && view) co_return std::pair(worker, std::move(*view));
  }
  co_return std::nullopt;
}

net::Awaitable<std::optional<SessionView>> WorkerSessions::ViewOf(std::uint64_t id) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) co_return std::nullopt;
  co_return it->second->View();
}

net::Awaitable<std::vector<ClientInfo>> WorkerSessions::Collect(
    std::vector<WorkerSessions*> workers) {
  std::vector<ClientInfo> all;
  for (WorkerSessions* worker : workers) {
    auto describe = worker->DescribeAll();
    auto visit = asio::co_spawn(worker->executor_, std::move(describe), net::kNoThrow);
    auto [failure, infos] = co_await std::move(visit);
    if (failure) continue;
    all.insert(all.end(), std::make_move_iterator(infos.begin()),
               std::make_move_iterator(infos.end()));
  }
  co_return all;
}

net::Awaitable<std::vector<ClientInfo>> WorkerSessions::DescribeAll() {
  std::vector<ClientInfo> infos;
  infos.reserve(sessions_.size());
  for (const auto& [id, session] : sessions_) infos.push_back(session->Describe());
  co_return infos;
}

net::Awaitable<void> WorkerSessions::Terminate(std::uint64_t id, std::uint64_t by) {
  auto here = TerminateHere(id, by);
  auto visit = asio::co_spawn(executor_, std::move(here), net::kNoThrow);
  auto [failure] = co_await std::move(visit);
  (void)failure;
}

net::Awaitable<void> WorkerSessions::TerminateHere(std::uint64_t id, std::uint64_t by) {
  if (auto it = sessions_.find(id); it != sessions_.end()) it->second->Terminate(by);
  co_return;
}

}  // namespace longlink::proxy
