// Lists the TCP sockets of the caller's network namespace from the best available source:
// netlink sock_diag, or /proc/net/tcp{,6} when netlink is unavailable (saying so).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "diag/socket_record.h"
#include "diag/tcp_state.h"

namespace longlink::diag {

enum class SocketSource : std::uint8_t { kAuto, kNetlink, kProc };

struct SocketListing {
  std::vector<SocketRecord> sockets;
  std::string source;                      // "netlink" or "proc"
  std::optional<std::string> source_note;  // why /proc was used
  std::vector<std::string> partial_reasons;
};

// Lists IPv4 and IPv6 TCP sockets whose state is in `states`. With kAuto a netlink failure
// falls back to /proc; a forced source fails with its own error. A host without IPv6 is not an
// error. Fails only when no socket list could be read at all.
Result<SocketListing> ListTcpSockets(SocketSource source, StateMask states);

}  // namespace longlink::diag
