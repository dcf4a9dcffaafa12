#include "server/listeners.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/local/stream_protocol.hpp>

namespace longlink::proxy {

Result<Listener> ListenTcp(const config::SocketAddress& address, int backlog) {
  asio::io_context io;
  std::error_code error;
  auto ip = asio::ip::make_address(address.host, error);
  if (error) {
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(address.host, std::to_string(address.port), error);
    if (error || results.empty()) {
      return Error{"listen " + address.ToString() + ": cannot resolve " + address.host};
    }
    ip = results.begin()->endpoint().address();
  }
  asio::ip::tcp::endpoint endpoint(ip, address.port);
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error && ip.is_v6()) acceptor.set_option(asio::ip::v6_only(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(backlog, error);
  if (error) return Error{"listen " + address.ToString() + ": " + error.message()};
  Listener listener;
  listener.name = address.ToString();
  listener.family = endpoint.protocol().family();
  listener.protocol = endpoint.protocol().protocol();
  listener.fd = acceptor.release(error);
  if (error) return Error{"listen " + address.ToString() + ": " + error.message()};
  return listener;
}

Result<Listener> ListenUnix(const std::string& path, std::uint32_t mode, int backlog) {
  asio::io_context io;
  std::error_code error;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error{"listen " + path + ": the path exists and is not a socket"};
    }
    // A socket file: in use if someone accepts on it, else left over from a crash.
    asio::local::stream_protocol::socket probe(io);
    probe.connect(asio::local::stream_protocol::endpoint(path), error);
    if (!error) return Error{"listen " + path + ": another process is listening on it"};
    ::unlink(path.c_str());
  }
  asio::local::stream_protocol::endpoint endpoint(path);
  asio::local::stream_protocol::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error && ::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    error = std::error_code(errno, std::generic_category());
  }
  if (!error) acceptor.listen(backlog, error);
  if (error) return Error{"listen " + path + ": " + error.message()};
  Listener listener;
  listener.name = path;
  listener.family = AF_UNIX;
  listener.protocol = 0;
  listener.unix_socket = true;
  listener.path = path;
  listener.fd = acceptor.release(error);
  if (error) return Error{"listen " + path + ": " + error.message()};
  return listener;
}

void CloseListener(Listener& listener) {
  if (listener.fd >= 0) ::close(listener.fd);
  listener.fd = -1;
  if (listener.unix_socket) ::unlink(listener.path.c_str());
}

}  // namespace longlink::proxy
