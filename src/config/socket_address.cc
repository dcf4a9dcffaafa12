#include "config/socket_address.h"

#include <charconv>
#include <string>

#include "config/toml_loader.h"

namespace longlink::config {

namespace {

bool IsHostCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

}  // namespace

std::string SocketAddress::ToString() const {
  if (kind == Kind::kUnix) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<SocketAddress> ParseSocketAddress(std::string_view text) {
  SocketAddress address;
  if (text.empty()) return Error{"empty address"};
  const std::string quoted = Quoted(text);
  if (text.front() == '/') {
    if (text.size() > kMaxUnixPathLength) {
      return Error{quoted + ": a Unix socket path has at most " +
                   std::to_string(kMaxUnixPathLength) + " bytes"};
    }
    address.kind = SocketAddress::Kind::kUnix;
    address.path = std::string(text);
    return address;
  }
  if (text.find('/') != std::string_view::npos || text.ends_with(".sock")) {
    return Error{quoted + ": a Unix socket path must be absolute (start with '/')"};
  }
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return Error{quoted + ": missing ']'"};
    host = text.substr(1, close - 1);
    if (close + 1 == text.size()) return Error{quoted + ": the port is missing ([IPv6]:PORT)"};
    if (text[close + 1] != ':') return Error{quoted + ": expected ':' and a port after ']'"};
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) {
      return Error{quoted + ": brackets are for IPv6 addresses"};
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return Error{quoted + ": the port is missing (HOST:PORT)"};
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Error{quoted + ": write an IPv6 address in brackets: [" + std::string(host) +
                   "]:" + std::string(port)};
    }
    for (char c : host) {
      if (!IsHostCharacter(c)) {
        return Error{quoted + ": '" + std::string(1, c) + "' cannot appear in a host name"};
      }
    }
  }
  if (host.empty()) return Error{quoted + ": the host is missing"};
  if (port.empty()) return Error{quoted + ": the port is missing"};
  unsigned value = 0;
  const char* end = port.data() + port.size();
  const auto [stop, error] = std::from_chars(port.data(), end, value);
  if (error != std::errc() || stop != end || value == 0 || value > 65535) {
    return Error{quoted + ": the port must be a number from 1 to 65535"};
  }
  address.host = std::string(host);
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

}  // namespace longlink::config
