// Builders of synthetic socket lists for census, analysis and render tests.
#pragma once

#include <vector>

#include "diag/kernel_settings.h"
#include "diag/socket_record.h"

namespace longlink::diag::testing {

inline Endpoint Ep(const char* addr, std::uint16_t port) { return {*IpAddress::Parse(addr), port}; }

// The ephemeral range low..high, nothing reserved.
inline PortRange Range(std::uint32_t low, std::uint32_t high) {
  PortRange r;
  r.low = low;
  r.high = high;
  return r;
}

inline SocketRecord Sock(TcpState state, Endpoint local, Endpoint remote, std::uint64_t inode = 0,
                         SocketTimer timer = SocketTimer::kNone, std::uint32_t expires_ms = 0) {
  SocketRecord s;
  s.state = state;
  s.local = local;
  s.remote = remote;
  s.inode = inode;
  s.timer = timer;
  s.expires_ms = expires_ms;
  return s;
}

inline SocketRecord Listen(const char* addr, std::uint16_t port, std::uint64_t inode = 1) {
  return Sock(TcpState::kListen, Ep(addr, port), Ep("0.0.0.0", 0), inode);
}

// `count` TIME_WAIT sockets from local_addr (ports from first_port) to remote; the i-th has
// expires_ms = expires(i).
template <typename Expires>
void AddTimeWait(std::vector<SocketRecord>* out, const char* local_addr, std::uint16_t first_port,
                 Endpoint remote, int count, Expires expires) {
  for (int i = 0; i < count; ++i) {
    out->push_back(Sock(TcpState::kTimeWait,
                        Ep(local_addr, static_cast<std::uint16_t>(first_port + i)), remote, 0,
                        SocketTimer::kTimeWait, expires(i)));
  }
}

}  // namespace longlink::diag::testing
