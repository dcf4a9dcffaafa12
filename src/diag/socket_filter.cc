#include "diag/socket_filter.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace longlink::diag {
namespace {

bool ParseUnsigned(std::string_view text, unsigned max, unsigned* value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size() && *value <= max;
}

Result<IpAddress> ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* answers = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &answers) != 0 || answers == nullptr) {
    return Error{"'" + host + "' is not an address and does not resolve"};
  }
  IpAddress address;
  if (answers->ai_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, answers->ai_addr, sizeof sin);
    address = IpAddress::FromV4(reinterpret_cast<const std::uint8_t*>(&sin.sin_addr));
  } else {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, answers->ai_addr, sizeof sin6);
    address = IpAddress::FromV6(sin6.sin6_addr.s6_addr);
  }
  freeaddrinfo(answers);
  return address;
}

}  // namespace

bool AddressFilter::Matches(const Endpoint& endpoint) const {
  if (port && endpoint.port != *port) return false;
  return endpoint.address.InPrefix(network, prefix_len);
}

std::string AddressFilter::ToString() const {
  unsigned full = network.is_v4() ? 32 : 128;
  std::string text = network.ToString();
  if (prefix_len != full) text += "/" + std::to_string(prefix_len);
  if (port) text = (network.is_v4() ? text : "[" + text + "]") + ":" + std::to_string(*port);
  return text;
}

Result<AddressFilter> ParseAddressFilter(std::string_view text) {
  std::string quoted = "'" + std::string(text) + "'";
  std::string_view host = text;
  std::optional<std::uint16_t> port;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return Error{quoted + ": missing ']'"};
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      unsigned p;
      if (!rest.starts_with(':') || !ParseUnsigned(rest.substr(1), 65535, &p) || p == 0)
        return Error{quoted + ": expected [ADDRESS]:PORT with a port from 1 to 65535"};
      port = static_cast<std::uint16_t>(p);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    std::size_t colon = text.find(':');
    unsigned p;
    if (!ParseUnsigned(text.substr(colon + 1), 65535, &p) || p == 0)
      return Error{quoted + ": the port must be a number from 1 to 65535"};
    port = static_cast<std::uint16_t>(p);
    host = text.substr(0, colon);
  }
  std::optional<unsigned> prefix;
  if (std::size_t slash = host.find('/'); slash != std::string_view::npos) {
    unsigned len;
    if (!ParseUnsigned(host.substr(slash + 1), 128, &len))
      return Error{quoted + ": the prefix length must be a number"};
    prefix = len;
    host = host.substr(0, slash);
  }
  if (host.empty()) return Error{quoted + ": an address is required"};
  AddressFilter filter;
  auto numeric = IpAddress::Parse(host);
  if (numeric) {
    filter.network = *numeric;
  } else if (prefix) {
    return Error{quoted + ": " + numeric.error().message};
  } else {
    auto resolved = ResolveHost(std::string(host));
    if (!resolved) return Error{quoted + ": " + resolved.error().message};
    filter.network = *resolved;
  }
  unsigned full = filter.network.is_v4() ? 32 : 128;
  if (prefix && *prefix > full)
    return Error{quoted + ": the prefix length must be at most " + std::to_string(full)};
  filter.prefix_len = prefix.value_or(full);
  filter.port = port;
  return filter;
}

bool SocketFilter::Matches(const SocketRecord& socket, const Endpoint& service) const {
  if (!(states & StateBit(socket.state))) return false;
  if (!ports.empty() && std::find_if(ports.begin(), ports.end(), [&](std::uint16_t p) {
                          return socket.local.port == p || socket.remote.port == p;
                        }) == ports.end()) {
    return false;
  }
  if (!services.empty() &&
      std::none_of(services.begin(), services.end(),
                   [&](const AddressFilter& f) { return f.Matches(service); })) {
    return false;
  }
  return true;
}

std::string SocketFilter::ToString() const {
  std::string text;
  auto add = [&](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
  for (auto p : ports) add("port " + std::to_string(p));
  for (const auto& s : services) add("destination " + s.ToString());
  if (states != kAllStatesMask) {
    for (TcpState s : kAllTcpStates) {
      if (states & StateBit(s)) add("state " + std::string(TcpStateName(s)));
    }
  }
  return text;
}

}  // namespace longlink::diag
