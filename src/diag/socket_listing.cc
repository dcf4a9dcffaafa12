#include "diag/socket_listing.h"

#include <sys/socket.h>
#include <unistd.h>

#include "diag/proc_net_tcp.h"
#include "diag/sock_diag.h"

namespace longlink::diag {
namespace {

bool HostHasIpv6() { return access("/proc/net/if_inet6", F_OK) == 0; }

Status ReadProc(StateMask states, SocketListing* listing) {
  auto v4 = ReadWholeFile("/proc/net/tcp");
  if (!v4) return v4.error();
  std::size_t malformed = 0;
  ParseProcNetTcp(*v4, AF_INET, states, &listing->sockets, &malformed);
  if (HostHasIpv6()) {
    auto v6 = ReadWholeFile("/proc/net/tcp6");
    if (v6) {
      ParseProcNetTcp(*v6, AF_INET6, states, &listing->sockets, &malformed);
    } else {
      listing->partial_reasons.push_back("IPv6 sockets not listed: " + v6.error().message);
    }
  }
  if (malformed > 0) {
    listing->partial_reasons.push_back(std::to_string(malformed) +
                                       " lines of /proc/net/tcp{,6} could not be parsed");
  }
  listing->source = "proc";
  return {};
}

}  // namespace

Result<SocketListing> ListTcpSockets(SocketSource source, StateMask states) {
  SocketListing listing;
  listing.sockets.reserve(4096);
  if (source == SocketSource::kProc) {
    if (auto s = ReadProc(states, &listing); !s) return s.error();
    return listing;
  }
  auto v4 = DumpTcpSockets(AF_INET, states, &listing.sockets);
  if (!v4) {
    if (source == SocketSource::kNetlink) return v4.error();
    listing.sockets.clear();
    listing.source_note =
        "netlink sock_diag is unavailable (" + v4.error().message + "); read /proc/net/tcp instead";
    if (auto s = ReadProc(states, &listing); !s) {
      return Error{v4.error().message + "; and the fallback failed: " + s.error().message};
    }
    return listing;
  }
  listing.source = "netlink";
  if (HostHasIpv6()) {
    auto v6 = DumpTcpSockets(AF_INET6, states, &listing.sockets);
    if (!v6) listing.partial_reasons.push_back("IPv6 sockets not listed: " + v6.error().message);
  }
  return listing;
}

}  // namespace longlink::diag
