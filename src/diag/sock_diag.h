// Lists TCP sockets through NETLINK_SOCK_DIAG (inet_diag), as `ss` does: one SOCK_DIAG_BY_FAMILY
// dump per address family, with a state mask and no per-socket extensions.
#pragma once

#include <span>

#include "common/result.h"
#include "diag/socket_sink.h"
#include "diag/tcp_state.h"

namespace longlink::diag {

// Delivers every TCP socket of `family` (AF_INET, AF_INET6, or AF_UNSPEC for both) in the
// caller's network namespace whose state is in `states` to *sink, in the kernel's order, as
// each reply buffer arrives: no list of sockets is built. AF_UNSPEC sends the older
// TCPDIAG_GETSOCK request, which the kernel answers for both families in one walk of its
// socket hash (a SOCK_DIAG_BY_FAMILY dump per family walks the whole hash each time: at 60k
// sockets one walk costs 0.73x two). A mask of LISTEN alone makes the kernel walk only its
// listening hash. Errors name the failing step ("netlink socket: ..."); sockets delivered
// before an error stay delivered. An AF_INET6 dump on a host without IPv6 fails; the caller
// decides whether that matters.
Status DumpTcpSockets(int family, StateMask states, SocketSink* sink);

// Decodes one netlink reply buffer (a run of nlmsghdr + inet_diag_msg, as answers to either
// request) into *sink, keeping only states in `states`. Sets *done on NLMSG_DONE. Exposed for tests
// on recorded bytes.
Status DecodeInetDiagReplies(std::span<const std::uint8_t> buffer, StateMask states,
                             SocketSink* sink, bool* done);

}  // namespace longlink::diag
