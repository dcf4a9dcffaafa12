#include "diag/socket_listing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string_view>

#include "diag/proc_net_tcp.h"
#include "diag/sock_diag.h"

namespace longlink::diag {
namespace {

constexpr StateMask kListenBit = StateBit(TcpState::kListen);

bool HostHasIpv6() { return access("/proc/net/if_inet6", F_OK) == 0; }

// Both files are read before either is parsed, and parsed twice (listeners, then the rest): an
// IPv6 listener can serve IPv4 peers, so its port must be known before the IPv4 sockets.
Status ReadProc(StateMask states, SocketSink* sink, SocketListing* listing) {
  auto v4 = ReadWholeFile("/proc/net/tcp");
  if (!v4) return v4.error();
  std::string v6_text;
  if (HostHasIpv6()) {
    auto v6 = ReadWholeFile("/proc/net/tcp6");
    if (v6) {
      v6_text = std::move(*v6);
    } else {
      listing->partial_reasons.push_back("IPv6 sockets not listed: " + v6.error().message);
    }
  }
  std::size_t malformed = 0;
  bool counted = false;  // every pass parses every line; count malformed ones in the first
  for (StateMask pass : {states & kListenBit, states & ~kListenBit}) {
    if (pass == 0) continue;
    std::size_t* count_malformed = counted ? nullptr : &malformed;
    counted = true;
    ParseProcNetTcp(*v4, AF_INET, pass, sink, count_malformed);
    if (!v6_text.empty()) ParseProcNetTcp(v6_text, AF_INET6, pass, sink, count_malformed);
  }
  if (malformed > 0) {
    listing->partial_reasons.push_back(std::to_string(malformed) +
                                       " lines of /proc/net/tcp{,6} could not be parsed");
  }
  listing->source = "proc";
  return {};
}

// The netlink dumps in delivery order: listeners of both families, then everything else. Each
// is one walk for both families (AF_UNSPEC); a kernel that refuses that request is asked per
// family, after the sink forgets whatever came before the refusal.
Status DumpNetlink(StateMask states, SocketSink* sink, SocketListing* listing) {
  listing->source = "netlink";
  Status one_walk;
  for (StateMask pass : {states & kListenBit, states & ~kListenBit}) {
    if (pass == 0) continue;
    one_walk = DumpTcpSockets(AF_UNSPEC, pass, sink);
    if (!one_walk) break;
  }
  if (one_walk) return one_walk;
  sink->Clear();

  const bool ipv6 = HostHasIpv6();
  bool ipv6_failed = false;
  for (StateMask pass : {states & kListenBit, states & ~kListenBit}) {
    if (pass == 0) continue;
    if (auto v4 = DumpTcpSockets(AF_INET, pass, sink); !v4) return v4;
    if (!ipv6 || ipv6_failed) continue;
    if (auto v6 = DumpTcpSockets(AF_INET6, pass, sink); !v6) {
      ipv6_failed = true;
      listing->partial_reasons.push_back("IPv6 sockets not listed: " + v6.error().message);
    }
  }
  return {};
}

}  // namespace

Result<SocketListing> ListTcpSockets(SocketSource source, StateMask states, SocketSink* sink) {
  SocketListing listing;
  if (source == SocketSource::kProc) {
    if (auto s = ReadProc(states, sink, &listing); !s) return s.error();
    return listing;
  }
  auto netlink = DumpNetlink(states, sink, &listing);
  if (netlink) return listing;
  if (source == SocketSource::kNetlink) return netlink.error();
  sink->Clear();
  listing = SocketListing{};
  listing.source_note = "netlink sock_diag is unavailable (" + netlink.error().message +
                        "); read /proc/net/tcp instead";
  if (auto s = ReadProc(states, sink, &listing); !s) {
    return Error{netlink.error().message + "; and the fallback failed: " + s.error().message};
  }
  return listing;
}

}  // namespace longlink::diag
