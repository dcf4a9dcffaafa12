// The --port, --dst and --state filters of `longlink diagnose`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "diag/ip_address.h"
#include "diag/socket_record.h"
#include "diag/tcp_state.h"

namespace longlink::diag {

// ADDR[/PREFIX][:PORT]; IPv6 with a port in brackets: [2001:db8::/32]:3306.
struct AddressFilter {
  IpAddress network;
  unsigned prefix_len = 32;
  std::optional<std::uint16_t> port;

  bool Matches(const Endpoint& endpoint) const;
  std::string ToString() const;
};

// Parses an --dst value. Host names are resolved (all their addresses are not needed: the
// first numeric answer is used). Errors quote the value.
Result<AddressFilter> ParseAddressFilter(std::string_view text);

struct SocketFilter {
  std::vector<std::uint16_t> ports;     // local or remote port equals one of these
  std::vector<AddressFilter> services;  // the service endpoint matches one of these
  StateMask states = kAllStatesMask;

  bool empty() const { return ports.empty() && services.empty() && states == kAllStatesMask; }
  // `service` is the endpoint the socket talks to: the remote one for outbound sockets, the
  // local listening one for inbound sockets.
  bool Matches(const SocketRecord& socket, const Endpoint& service) const;
  std::string ToString() const;  // "port 3306, state TIME_WAIT"; "" when empty
};

}  // namespace longlink::diag
