// Lists TCP sockets through NETLINK_SOCK_DIAG (inet_diag), as `ss` does: one SOCK_DIAG_BY_FAMILY
// dump per address family, with a state mask and no per-socket extensions.
#pragma once

#include <span>
#include <vector>

#include "common/result.h"
#include "diag/socket_record.h"
#include "diag/tcp_state.h"

namespace longlink::diag {

// Appends every TCP socket of `family` (AF_INET or AF_INET6) in the caller's network namespace
// whose state is in `states` to *out. Errors name the failing step ("netlink socket: ...").
// An AF_INET6 dump on a host without IPv6 fails; the caller decides whether that matters.
Status DumpTcpSockets(int family, StateMask states, std::vector<SocketRecord>* out);

// Decodes one netlink reply buffer (a run of nlmsghdr + inet_diag_msg) into *out, keeping only
// states in `states`. Sets *done on NLMSG_DONE. Exposed for tests on recorded bytes.
Status DecodeInetDiagReplies(std::span<const std::uint8_t> buffer, StateMask states,
                             std::vector<SocketRecord>* out, bool* done);

}  // namespace longlink::diag
