// SocketRecord: one TCP socket as the kernel describes it, whichever source listed it
// (netlink inet_diag or /proc/net/tcp). A plain value; collectors produce vectors of them.
#pragma once

#include <cstdint>

#include "diag/ip_address.h"
#include "diag/tcp_state.h"

namespace longlink::diag {

// idiag_timer / the "tr" column of /proc/net/tcp.
enum class SocketTimer : std::uint8_t {
  kNone = 0,
  kRetransmit = 1,
  kKeepalive = 2,  // also the FIN_WAIT2 timer of a full socket
  kTimeWait = 3,   // the socket is a time-wait mini-socket
  kZeroWindowProbe = 4,
};

struct SocketRecord {
  Endpoint local;
  Endpoint remote;
  TcpState state = TcpState::kClose;
  SocketTimer timer = SocketTimer::kNone;
  std::uint32_t expires_ms = 0;  // time left on the timer
  std::uint32_t uid = 0;
  std::uint64_t inode = 0;  // 0 for time-wait mini-sockets: no process owns them

  // A FIN_WAIT2 socket the kernel keeps as a time-wait mini-socket: its program closed it and
  // the peer has not sent its FIN. sockstat's "tw" counts these together with TIME_WAIT.
  bool IsFinWait2Orphan() const {
    return state == TcpState::kFinWait2 && timer == SocketTimer::kTimeWait;
  }
};

}  // namespace longlink::diag
