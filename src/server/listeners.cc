#include "server/listeners.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/local/stream_protocol.hpp>

namespace longlink::proxy {

namespace {

// One bound, listening TCP socket; `reuse_port`: with SO_REUSEPORT.
Result<int> BindTcp(const asio::ip::tcp::endpoint& endpoint, int backlog, bool reuse_port,
                    bool listen) {
  asio::io_context io;
  std::error_code error;
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error && reuse_port) {
    const int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      error = std::error_code(errno, std::generic_category());
    }
  }
  if (!error && endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error && listen) acceptor.listen(backlog, error);
  if (error) return Error{error.message()};
  const int fd = acceptor.release(error);
  if (error) return Error{error.message()};
  return fd;
}

}  // namespace

Result<Listener> ListenTcp(const config::SocketAddress& address, int backlog, unsigned copies) {
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
  Listener listener;
  listener.name = address.ToString();
  listener.family = endpoint.protocol().family();
  listener.protocol = endpoint.protocol().protocol();
  if (copies <= 1) {
    auto fd = BindTcp(endpoint, backlog, /*reuse_port=*/false, /*listen=*/true);
    if (!fd.ok()) return Error{"listen " + address.ToString() + ": " + fd.error().message};
    listener.fd = *fd;
    return listener;
  }
  // A plain bind fails if anyone listens there, SO_REUSEPORT or not; it is closed before the
  // group binds. (The port is never 0: the config refuses it.)
  auto probe = BindTcp(endpoint, backlog, /*reuse_port=*/false, /*listen=*/false);
  if (!probe.ok()) return Error{"listen " + address.ToString() + ": " + probe.error().message};
  ::close(*probe);
  for (unsigned i = 0; i < copies; ++i) {
    auto fd = BindTcp(endpoint, backlog, /*reuse_port=*/true, /*listen=*/true);
    if (!fd.ok()) {
      for (const int open : listener.worker_fds) ::close(open);
      return Error{"listen " + address.ToString() + ": " + fd.error().message};
    }
    listener.worker_fds.push_back(*fd);
  }
  listener.fd = listener.worker_fds.front();
  return listener;
}

int WorkerFd(const Listener& listener, unsigned worker) {
  if (listener.worker_fds.empty()) return listener.fd;
  return listener.worker_fds[worker % listener.worker_fds.size()];
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
  if (listener.worker_fds.empty() && listener.fd >= 0) ::close(listener.fd);
  for (const int fd : listener.worker_fds) ::close(fd);
  listener.worker_fds.clear();
  listener.fd = -1;
  if (listener.unix_socket) ::unlink(listener.path.c_str());
}

}  // namespace longlink::proxy
