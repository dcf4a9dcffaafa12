// The proxy's listening sockets: TCP (host:port, resolved once) and Unix sockets (a stale
// socket file from a crash is replaced; one another process accepts on is an error). Opened by
// the main thread. A TCP address may get one socket per worker (SO_REUSEPORT): the kernel
// spreads connections among them, and a connection wakes only the worker whose socket it
// reached. Otherwise every worker accepts on a duplicate of the one descriptor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/socket_address.h"

namespace longlink::proxy {

struct Listener {
  std::string name;  // For logs.
  int fd = -1;
  // With one socket per worker: all of them (fd is the first).
  std::vector<int> worker_fds;
  int family = 0;
  int protocol = 0;
  bool unix_socket = false;
  std::string path;
};

// Binds and listens; the error names the address. `copies` > 1: that many sockets with
// SO_REUSEPORT (worker_fds), once a plain bind has shown that no one else holds the address
// (another process with SO_REUSEPORT would otherwise share it silently).
Result<Listener> ListenTcp(const config::SocketAddress& address, int backlog, unsigned copies = 1);
// The descriptor worker `worker` accepts on (not duplicated).
int WorkerFd(const Listener& listener, unsigned worker);
// Binds `path` with file `mode` and listens.
Result<Listener> ListenUnix(const std::string& path, std::uint32_t mode, int backlog);
// Closes the descriptor and removes a Unix socket's file.
void CloseListener(Listener& listener);

}  // namespace longlink::proxy
