// Sockets for the proxy: one type for TCP and Unix stream sockets (asio's generic stream
// protocol), coroutine helpers that report errors as values (no exceptions cross the event
// loop), a deadline that cancels a socket's pending operations, and connecting to a
// config::SocketAddress.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/basic_socket_acceptor.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/ip/address.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "common/result.h"
#include "config/proxy_config.h"

namespace longlink::net {

using Socket = asio::generic::stream_protocol::socket;
using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;
template <typename T>
using Awaitable = asio::awaitable<T>;

// Completion token for co_await: yields std::tuple<error_code, ...> instead of throwing.
inline constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

// Cancels a socket's pending operations when it expires, unless disarmed first. The socket
// then sees asio::error::operation_aborted; expired() tells a timeout from other errors.
// REQUIRES: the socket outlives the Deadline (declare the Deadline after the socket).
class Deadline {
 public:
  Deadline(Socket& socket, std::chrono::milliseconds timeout);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  bool expired() const { return state_->expired; }

 private:
  struct State {
    bool expired = false;
    bool disarmed = false;
  };
  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};

// Connects to `address` (TCP: every address the name resolves to, in order; Unix: the path),
// with TCP_NODELAY on TCP. The error names the address and the cause.
Awaitable<Result<Socket>> Connect(asio::any_io_executor executor,
                                  const config::SocketAddress& address,
                                  std::chrono::milliseconds timeout);

// After an accept failed with `error`: false if the acceptor was closed (stop accepting);
// otherwise true, after logging it (rate-limited; `what` names the listener, "accept" or
// "admin console accept") and, when the process is out of descriptors or memory, a 100 ms
// pause so that the accept loop does not spin.
Awaitable<bool> SurviveAcceptFailure(std::error_code error, std::string_view what);

// "Connection refused", "timed out", ...: the text of an error code for messages.
std::string ErrorText(const std::error_code& error);

// The IP address of a TCP endpoint (an IPv4-mapped IPv6 address as IPv4); nullopt for a Unix
// socket.
std::optional<asio::ip::address> IpAddressOf(const Socket::endpoint_type& endpoint);
// "10.0.0.7:51234" / "[::1]:51234" for a TCP endpoint, "" for a Unix socket.
std::string EndpointText(const Socket::endpoint_type& endpoint);
// True if the bytes `socket` carries never leave this host: a Unix-domain socket, or TCP
// whose peer is a loopback address.
bool IsLocalConnection(const Socket& socket);
// The IP address of this end of a TCP socket as text ("127.0.0.1", "::1"; an IPv4-mapped
// IPv6 address as IPv4), or "" for a Unix socket or on error.
std::string LocalIpAddress(const Socket& socket);

}  // namespace longlink::net
