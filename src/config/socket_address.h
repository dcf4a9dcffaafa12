// Where the proxy listens or connects: a TCP host and port, or a Unix socket path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace longlink::config {

// The longest Unix socket path: sockaddr_un::sun_path holds 108 bytes including the
// terminating NUL.
inline constexpr std::size_t kMaxUnixPathLength = 107;

// A place to listen on or connect to: "host:port", "[v6addr]:port", or an absolute Unix
// socket path ("/run/mysqld/mysqld.sock").
struct SocketAddress {
  enum class Kind { kTcp, kUnix };
  Kind kind = Kind::kTcp;
  std::string host = {};   // kTcp: an IP literal (without brackets) or a host name.
  std::uint16_t port = 0;  // kTcp.
  std::string path = {};   // kUnix.
  // The form it was parsed from ("127.0.0.1:3306", "[::1]:3306", "/path").
  std::string ToString() const;
  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};
// Parses "host:port", "[v6]:port" or "/absolute/path". A bare IPv6 address without brackets
// and a missing or out-of-range port are errors.
Result<SocketAddress> ParseSocketAddress(std::string_view text);

}  // namespace longlink::config
