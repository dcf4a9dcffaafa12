#include "net/socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <cstring>

#include "common/log.h"
#include "common/log_rate_limit.h"

namespace longlink::net {

Deadline::Deadline(Socket& socket, std::chrono::milliseconds timeout)
    : state_(std::make_shared<State>()), timer_(socket.get_executor(), timeout) {
  timer_.async_wait([state = state_, &socket](const std::error_code& error) {
    if (error || state->disarmed) return;  // Disarmed.
    state->expired = true;
    std::error_code ignored;
    socket.cancel(ignored);
  });
}

Deadline::~Deadline() {
  state_->disarmed = true;
  timer_.cancel();
}

std::string ErrorText(const std::error_code& error) {
  if (error == asio::error::eof) return "connection closed";
  if (error == asio::error::operation_aborted) return "timed out";
  return error.message();
}

namespace {

Awaitable<std::error_code> ConnectOne(Socket& socket,
                                      const asio::generic::stream_protocol::endpoint& endpoint) {
  std::error_code error;
  socket.close(error);
  socket.open(endpoint.protocol(), error);
  if (error) co_return error;
  auto [connect_error] = co_await socket.async_connect(endpoint, kNoThrow);
  co_return connect_error;
}

}  // namespace

Awaitable<Result<Socket>> Connect(asio::any_io_executor executor,
                                  const config::SocketAddress& address,
                                  std::chrono::milliseconds timeout) {
  Socket socket(executor);
  const std::string name = address.ToString();
  std::error_code error;
  asio::generic::stream_protocol protocol(AF_UNIX, 0);  // Of the address connected to.
  {
    Deadline deadline(socket, timeout);
    if (address.kind == config::SocketAddress::Kind::kUnix) {
      asio::local::stream_protocol::endpoint unix_endpoint(address.path);
      error = co_await ConnectOne(socket, asio::generic::stream_protocol::endpoint(unix_endpoint));
    } else {
      asio::ip::tcp::resolver resolver(executor);
      auto [resolve_error, results] =
          co_await resolver.async_resolve(address.host, std::to_string(address.port), kNoThrow);
      if (resolve_error) {
        co_return Error{"cannot resolve " + name + ": " + resolve_error.message()};
      }
      error = asio::error::host_not_found;
      for (const auto& entry : results) {
        const asio::generic::stream_protocol::endpoint endpoint(entry.endpoint());
        protocol = endpoint.protocol();
        error = co_await ConnectOne(socket, endpoint);
        if (!error || deadline.expired()) break;
      }
      if (!error) {
        const int one = 1;
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
    }
    if (deadline.expired()) {
      co_return Error{"cannot connect to " + name + ": timed out after " +
                      std::to_string(timeout.count()) + " ms"};
    }
  }
  if (error) co_return Error{"cannot connect to " + name + ": " + error.message()};
  // Connecting waited for writability, and Asio's loop goes on waiting for it once it has
  // (until the socket leaves the loop): a connection kept between sessions, a pool's, would
  // then be woken each time its peer reads what it sent. Registered afresh, it is not.
  const int fd = socket.release(error);
  if (error) co_return Error{"cannot connect to " + name + ": " + error.message()};
  socket.assign(protocol, fd, error);
  if (error) {
    ::close(fd);
    co_return Error{"cannot connect to " + name + ": " + error.message()};
  }
  co_return std::move(socket);
}

std::optional<asio::ip::address> IpAddressOf(const Socket::endpoint_type& endpoint) {
  if (endpoint.protocol().family() == AF_UNIX) return std::nullopt;
  asio::ip::tcp::endpoint tcp;
  if (endpoint.size() > tcp.capacity()) return std::nullopt;
  std::memcpy(tcp.data(), endpoint.data(), endpoint.size());
  tcp.resize(endpoint.size());
  const asio::ip::address address = tcp.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

std::string EndpointText(const Socket::endpoint_type& endpoint) {
  const auto address = IpAddressOf(endpoint);
  if (!address) return "";
  asio::ip::tcp::endpoint tcp;
  std::memcpy(tcp.data(), endpoint.data(), endpoint.size());
  tcp.resize(endpoint.size());
  const std::string host =
      address->is_v6() ? "[" + address->to_string() + "]" : address->to_string();
  return host + ":" + std::to_string(tcp.port());
}

Awaitable<bool> SurviveAcceptFailure(std::error_code error, std::string_view what) {
  if (error == asio::error::operation_aborted || error == asio::error::bad_descriptor) {
    co_return false;
  }
  static LogRateLimit accept_errors;
  if (auto note = accept_errors.Admit(); note.write) {
    Log(LogLevel::kWarning, 0, "{}: {}{}", what, error.message(), note.suffix);
  }
  if (error == asio::error::no_descriptors || error == asio::error::no_buffer_space ||
      error == asio::error::no_memory) {
    asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
    co_await pause.async_wait(kNoThrow);
  }
  co_return true;
}

bool IsLocalConnection(const Socket& socket) {
  std::error_code error;
  const auto endpoint = socket.remote_endpoint(error);
  if (error) return false;
  if (endpoint.protocol().family() == AF_UNIX) return true;
  const auto address = IpAddressOf(endpoint);
  return address && address->is_loopback();
}

std::string LocalIpAddress(const Socket& socket) {
  std::error_code error;
  const auto endpoint = socket.local_endpoint(error);
  if (error) return "";
  const auto address = IpAddressOf(endpoint);
  return address ? address->to_string() : "";
}

}  // namespace longlink::net
