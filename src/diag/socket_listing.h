// Lists the TCP sockets of the caller's network namespace from the best available source:
// netlink sock_diag, or /proc/net/tcp{,6} when netlink is unavailable (saying so). Sockets are
// delivered to a SocketSink as they are read; nothing here holds a list of them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "diag/socket_sink.h"
#include "diag/tcp_state.h"

namespace longlink::diag {

enum class SocketSource : std::uint8_t { kAuto, kNetlink, kProc };

// What is known about a listing, beside the sockets themselves.
struct SocketListing {
  std::string source;                      // "netlink" or "proc"
  std::optional<std::string> source_note;  // why /proc was used
  std::vector<std::string> partial_reasons;
};

// Delivers the IPv4 and IPv6 TCP sockets whose state is in `states` to *sink: every LISTEN
// socket of both families first, then the others (so that a consumer knows all listening ports
// before it sees the first connection). With kAuto a netlink failure falls back to /proc after
// sink->Clear(); a forced source fails with its own error. A host without IPv6 is not an error.
// Fails only when no socket list could be read at all.
Result<SocketListing> ListTcpSockets(SocketSource source, StateMask states, SocketSink* sink);

}  // namespace longlink::diag
