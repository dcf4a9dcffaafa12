// The HTTP/1.1 endpoint Prometheus scrapes ([metrics] listen, docs/METRICS.md): a TCP listener
// on an asio executor that answers
//   GET /metrics   200, the text `render` returns (Content-Type kPrometheusContentType);
//   HEAD /metrics  the same head, no body;
//   GET|HEAD /     200, one line of plain text pointing to /metrics;
//   other paths    404;  other methods  405 with "Allow: GET, HEAD";
//   a request line or header that does not parse  400;
//   a request head (request line and headers) over limits.max_request_head bytes  431;
// one request per connection ("Connection: close" on every response; a body is ignored).
//
// Bounded: a connection holds at most max_request_head bytes of buffer; one whose request head
// has not arrived within limits.timeout of its accept (a silent client) is closed, as is one
// that does not take its response within limits.timeout; past limits.max_connections open
// connections, new ones are accepted and closed at once. Nothing throws out of it; the render
// callback's exceptions become a 500.
//
// Threading: everything (the accept loop, every connection, `render`) runs on the executor
// given to Listen, which must not run two handlers at once (an io_context run by one thread,
// or a strand). REQUIRES: the executor's execution context outlives this object.
#pragma once

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "config/socket_address.h"

namespace longlink::admin {

struct MetricsServerLimits {
  std::chrono::milliseconds timeout{5000};  // For the request head; again for the response.
  std::size_t max_request_head = 8 * 1024;  // Bytes, "\r\n\r\n" included.
  std::size_t max_connections = 64;         // Open at once.
};

class MetricsServer {
 public:
  // Binds and listens on `address` (TCP; a host name resolves here, blocking, to its first
  // address; port 0: an ephemeral port, see port()). Nothing is accepted before Start(). The
  // error names the address ("metrics listen 127.0.0.1:9187: Address already in use").
  static Result<std::unique_ptr<MetricsServer>> Listen(asio::any_io_executor executor,
                                                       const config::SocketAddress& address,
                                                       std::function<std::string()> render,
                                                       MetricsServerLimits limits = {});
  // Stops (see Stop()).
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port it listens on (the ephemeral one when the address said 0).
  std::uint16_t port() const { return port_; }
  // Starts the accept loop on the executor. Call once.
  void Start();
  // Closes the listener and every open connection; their coroutines end on the executor soon
  // after (none is left pending). Thread-safe; idempotent.
  void Stop();

  struct State;  // Shared with the coroutines, which may outlive this object briefly.

 private:
  MetricsServer(std::shared_ptr<State> state, std::uint16_t port);
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
};

}  // namespace longlink::admin
