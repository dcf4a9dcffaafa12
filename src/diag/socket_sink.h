// SocketSink: where a socket source (netlink sock_diag, /proc/net/tcp) delivers sockets one at a
// time, as it reads them, so that nothing has to hold a list of every socket.
#pragma once

#include <vector>

#include "diag/socket_record.h"

namespace longlink::diag {

class SocketSink {
 public:
  virtual ~SocketSink() = default;

  // One socket. The reference is valid only during the call.
  virtual void Add(const SocketRecord& socket) = 0;
  // The source starts over (netlink failed part-way and /proc is read instead): forget every
  // socket added so far.
  virtual void Clear() = 0;
};

// Keeps every socket it is given: for tests and recorded inputs, never on the diagnose path,
// whose memory must not grow with the number of sockets.
class SocketVector final : public SocketSink {
 public:
  std::vector<SocketRecord> sockets;

  void Add(const SocketRecord& socket) override { sockets.push_back(socket); }
  void Clear() override { sockets.clear(); }
};

}  // namespace longlink::diag
