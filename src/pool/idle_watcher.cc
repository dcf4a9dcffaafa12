#include "pool/idle_watcher.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <asio/posix/stream_descriptor.hpp>
#include <asio/this_coro.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/log.h"

namespace longlink::pool {

IdleWatcher::IdleWatcher() : epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) Log(LogLevel::kError, 0, "epoll_create1: {}", std::strerror(errno));
}

IdleWatcher::~IdleWatcher() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool IdleWatcher::Add(const net::ByteStream& stream, std::uint64_t token) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.u64 = token;
  const int fd = stream.native_handle();
  return epoll_fd_ >= 0 && fd >= 0 && ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0;
}

void IdleWatcher::Remove(const net::ByteStream& stream) {
  const int fd = stream.native_handle();
  if (epoll_fd_ >= 0 && fd >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

net::Awaitable<void> IdleWatcher::Run(ReadyCallback on_ready) {
  if (epoll_fd_ < 0) co_return;
  auto executor = co_await asio::this_coro::executor;
  // The descriptor object closes its own duplicate, so the set outlives this loop's
  // event loop (the pools are destroyed after the workers).
  asio::posix::stream_descriptor set(executor, ::dup(epoll_fd_));
  std::vector<std::uint64_t> tokens;
  epoll_event events[64];
  for (;;) {
    auto [error] =
        co_await set.async_wait(asio::posix::stream_descriptor::wait_read, net::kNoThrow);
    if (error) co_return;
    // The outer loop is edge-triggered: drain every ready event before waiting again.
    for (;;) {
      const int n = ::epoll_wait(epoll_fd_, events, 64, 0);
      if (n <= 0) break;
      tokens.clear();
      for (int i = 0; i < n; ++i) tokens.push_back(events[i].data.u64);
      on_ready(tokens);
      if (n < 64) break;
    }
  }
}

}  // namespace longlink::pool
