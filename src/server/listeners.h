// The proxy's listening sockets: TCP (host:port, resolved once) and Unix sockets (a stale
// socket file from a crash is replaced; one another process accepts on is an error). Each is
// opened once by the main thread; every worker accepts on a duplicate of its descriptor.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "config/socket_address.h"

namespace longlink::proxy {

struct Listener {
  std::string name;  // For logs.
  int fd = -1;
  int family = 0;
  int protocol = 0;
  bool unix_socket = false;
  std::string path;
};

// Binds and listens; the error names the address.
Result<Listener> ListenTcp(const config::SocketAddress& address, int backlog);
// Binds `path` with file `mode` and listens.
Result<Listener> ListenUnix(const std::string& path, std::uint32_t mode, int backlog);
// Closes the descriptor and removes a Unix socket's file.
void CloseListener(Listener& listener);

}  // namespace longlink::proxy
