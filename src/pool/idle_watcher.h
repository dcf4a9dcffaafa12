// Watches idle backend sockets with one epoll set (the pool's idle connections; a worker's
// connections held by idle clients), so that a connection the server closes or writes to while
// it is idle (wait_timeout, KILL, shutdown: an EOF or an unsolicited ERR 1927/1053/4031) is
// reported at once, not when a client next uses it, and without polling every socket.
//
// Add/Remove may be called from any thread (epoll_ctl is thread-safe). Run() waits on one
// event loop and hands the tokens of readable sockets to a callback, which must remove them
// (a readable socket stays readable: the set is level-triggered).
#pragma once

#include <asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <span>

#include "net/byte_stream.h"

namespace longlink::pool {

class IdleWatcher {
 public:
  IdleWatcher();
  ~IdleWatcher();
  IdleWatcher(const IdleWatcher&) = delete;
  IdleWatcher& operator=(const IdleWatcher&) = delete;

  // Starts watching `stream` (attached or detached); `token` comes back when it turns
  // readable. False if epoll refused (or the stream is closed).
  bool Add(const net::ByteStream& stream, std::uint64_t token);
  // Stops watching `stream`. REQUIRES: before it is attached elsewhere, detached or closed.
  void Remove(const net::ByteStream& stream);

  using ReadyCallback = std::function<void(std::span<const std::uint64_t> tokens)>;
  // Runs until its event loop stops, calling `on_ready` for sockets that turned readable.
  net::Awaitable<void> Run(ReadyCallback on_ready);

 private:
  int epoll_fd_ = -1;
};

}  // namespace longlink::pool
