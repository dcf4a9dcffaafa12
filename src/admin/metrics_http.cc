#include "admin/metrics_http.h"

#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <exception>
#include <list>
#include <optional>
#include <string_view>
#include <utility>

#include "admin/metrics_text.h"
#include "common/log.h"
#include "common/log_rate_limit.h"
#include "net/socket.h"

namespace longlink::admin {

struct MetricsServer::State {
  State(asio::any_io_executor executor_in, std::function<std::string()> render_in,
        MetricsServerLimits limits_in)
      : executor(std::move(executor_in)),
        acceptor(executor),
        render(std::move(render_in)),
        limits(limits_in) {}

  // Closes the listener and every connection being served; their pending operations end with
  // operation_aborted.
  void Close() {
    if (stopped) return;
    stopped = true;
    std::error_code ignored;
    acceptor.close(ignored);
    for (net::Socket* socket : open) socket->close(ignored);
  }

  asio::any_io_executor executor;
  net::Acceptor acceptor;
  std::function<std::string()> render;
  MetricsServerLimits limits;
  bool stopped = false;
  std::size_t connections = 0;     // Accepted and not yet finished (admitted ones only).
  std::list<net::Socket*> open{};  // The sockets of the connections being served.
};

namespace {

using State = MetricsServer::State;

constexpr std::string_view kIndexBody = "longlink: Prometheus metrics are at /metrics\n";
// How much of a request body (or whatever follows the head) is read and dropped after the
// response, so that closing does not reset the connection before the client read the response.
constexpr std::size_t kMaxDiscard = 64 * 1024;
constexpr std::size_t kReadChunk = 2048;

struct Response {
  int status = 200;
  std::string_view reason = "OK";
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string body = {};
  bool allow_header = false;  // 405: "Allow: GET, HEAD".
  bool head_only = false;     // HEAD: no body, the same Content-Length.
};

// A response whose body is its reason phrase ("Not Found\n").
Response Plain(int status, std::string_view reason) {
  Response r;
  r.status = status;
  r.reason = reason;
  r.body = std::string(reason) + "\n";
  return r;
}

// The end of the request head: the offset just past its empty line ("\r\n\r\n", or "\n\n" from
// a lenient client), searching from `from`; nullopt if it has not arrived yet.
std::optional<std::size_t> FindHeadEnd(std::string_view data, std::size_t from) {
  for (std::size_t i = data.find('\n', from); i != std::string_view::npos;
       i = data.find('\n', i + 1)) {
    if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
  }
  return std::nullopt;
}

// What a complete request head asks for. Only its request line matters; headers are ignored.
Response Answer(std::string_view head, const std::function<std::string()>& render) {
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::size_t first = line.find(' ');
  const std::size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last) return Plain(400, "Bad Request");
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, last - first - 1);
  const std::string_view version = line.substr(last + 1);
  if (method.empty() || target.empty() || target.find(' ') != std::string_view::npos ||
      !version.starts_with("HTTP/1.")) {
    return Plain(400, "Bad Request");
  }
  if (method != "GET" && method != "HEAD") {
    Response r = Plain(405, "Method Not Allowed");
    r.allow_header = true;
    return r;
  }
  const std::string_view path = target.substr(0, target.find('?'));
  Response r;
  if (path == "/metrics") {
    try {
      r.body = render();
      r.content_type = kPrometheusContentType;
    } catch (const std::exception& e) {
      static LogRateLimit failures;
      if (auto note = failures.Admit(); note.write) {
        Log(LogLevel::kError, 0, "metrics: rendering failed: {}{}", e.what(), note.suffix);
      }
      r = Plain(500, "Internal Server Error");
    }
  } else if (path == "/") {
    r.body = kIndexBody;
  } else {
    r = Plain(404, "Not Found");
  }
  r.head_only = method == "HEAD";
  return r;
}

std::string HeadOf(const Response& r) {
  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(r.reason) +
                     "\r\nContent-Type: " + std::string(r.content_type) +
                     "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (r.allow_header) head += "Allow: GET, HEAD\r\n";
  head += "Connection: close\r\n\r\n";
  return head;
}

// Reads the request head, answers it, closes. Every step is bounded in time and bytes.
net::Awaitable<void> Serve(std::shared_ptr<State> state, net::Socket socket) {
  struct Registration {
    State& state;
    std::list<net::Socket*>::iterator entry;
    ~Registration() {
      state.open.erase(entry);
      --state.connections;
    }
  } registration{*state, state->open.insert(state->open.end(), &socket)};
  if (state->stopped) co_return;  // Stopped between the accept and this coroutine's start.

  const MetricsServerLimits limits = state->limits;
  std::string buffer;
  std::size_t used = 0;
  std::optional<std::size_t> head_end;
  {
    net::Deadline deadline(socket, limits.timeout);
    while (!head_end && used < limits.max_request_head) {
      buffer.resize(std::min(limits.max_request_head, used + kReadChunk));
      auto [error, n] = co_await socket.async_read_some(
          asio::buffer(buffer.data() + used, buffer.size() - used), net::kNoThrow);
      if (error) co_return;  // Closed, reset, silent past the timeout, or Stop().
      const std::size_t from = used >= 2 ? used - 2 : 0;  // The empty line may straddle reads.
      used += n;
      head_end = FindHeadEnd(std::string_view(buffer.data(), used), from);
    }
  }
  const Response response = head_end
                                ? Answer(std::string_view(buffer.data(), *head_end), state->render)
                                : Plain(431, "Request Header Fields Too Large");
  const std::string head = HeadOf(response);
  {
    net::Deadline deadline(socket, limits.timeout);
    const std::array<asio::const_buffer, 2> parts = {
        asio::buffer(head),
        response.head_only ? asio::const_buffer() : asio::buffer(response.body)};
    auto [error, n] = co_await asio::async_write(socket, parts, net::kNoThrow);
    if (error) co_return;
  }
  // Lingering close: end our side, then drop what the client still sends (a body, the rest of an
  // oversized head) until it closes, so that the close does not reset the connection and take the
  // response with it. Bounded by kMaxDiscard bytes and the timeout.
  std::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_send, ignored);
  net::Deadline deadline(socket, limits.timeout);
  buffer.resize(kReadChunk);
  for (std::size_t discarded = 0; discarded < kMaxDiscard;) {
    auto [error, n] = co_await socket.async_read_some(asio::buffer(buffer), net::kNoThrow);
    if (error) break;
    discarded += n;
  }
}

void LogFailure(std::exception_ptr failure) {
  if (!failure) return;
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    Log(LogLevel::kError, 0, "metrics: a connection ended by an internal error: {}", e.what());
  } catch (...) {
    Log(LogLevel::kError, 0, "metrics: a connection ended by an internal error");
  }
}

net::Awaitable<void> AcceptLoop(std::shared_ptr<State> state) {
  for (;;) {
    auto [error, socket] = co_await state->acceptor.async_accept(net::kNoThrow);
    if (state->stopped) co_return;
    if (error) {
      if (error == asio::error::operation_aborted || error == asio::error::bad_descriptor) {
        co_return;
      }
      static LogRateLimit accept_errors;
      if (auto note = accept_errors.Admit(); note.write) {
        Log(LogLevel::kWarning, 0, "metrics: accept: {}{}", error.message(), note.suffix);
      }
      if (error == asio::error::no_descriptors || error == asio::error::no_buffer_space ||
          error == asio::error::no_memory) {
        asio::steady_timer pause(state->executor, std::chrono::milliseconds(100));
        co_await pause.async_wait(net::kNoThrow);
      }
      continue;
    }
    if (state->connections >= state->limits.max_connections) {
      static LogRateLimit refusals;
      if (auto note = refusals.Admit(); note.write) {
        Log(LogLevel::kWarning, 0,
            "metrics: closed a new connection at once: {} connections are open (the most){}",
            state->connections, note.suffix);
      }
      std::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++state->connections;
    auto serve = Serve(state, std::move(socket));
    asio::co_spawn(state->executor, std::move(serve), LogFailure);
  }
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::Listen(asio::any_io_executor executor,
                                                             const config::SocketAddress& address,
                                                             std::function<std::string()> render,
                                                             MetricsServerLimits limits) {
  const std::string name = "metrics listen " + address.ToString();
  if (address.kind != config::SocketAddress::Kind::kTcp) {
    return Error{name + ": only a TCP address (HOST:PORT) can serve HTTP"};
  }
  std::error_code error;
  asio::ip::address ip = asio::ip::make_address(address.host, error);
  if (error) {
    asio::ip::tcp::resolver resolver(executor);
    auto results = resolver.resolve(address.host, std::to_string(address.port), error);
    if (error || results.empty()) return Error{name + ": cannot resolve " + address.host};
    ip = results.begin()->endpoint().address();
  }
  const asio::ip::tcp::endpoint endpoint(ip, address.port);
  asio::ip::tcp::acceptor tcp(executor);
  tcp.open(endpoint.protocol(), error);
  if (!error) tcp.set_option(asio::socket_base::reuse_address(true), error);
  if (!error && ip.is_v6()) tcp.set_option(asio::ip::v6_only(true), error);
  if (!error) tcp.bind(endpoint, error);
  if (!error) tcp.listen(asio::socket_base::max_listen_connections, error);
  std::uint16_t port = 0;
  if (!error) port = tcp.local_endpoint(error).port();
  if (error) return Error{name + ": " + error.message()};

  auto state = std::make_shared<State>(executor, std::move(render), limits);
  const int fd = tcp.release(error);
  if (!error) {
    state->acceptor.assign(
        asio::generic::stream_protocol(endpoint.protocol().family(), IPPROTO_TCP), fd, error);
  }
  if (error) {
    if (fd >= 0) ::close(fd);
    return Error{name + ": " + error.message()};
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state), port));
}

MetricsServer::MetricsServer(std::shared_ptr<State> state, std::uint16_t port)
    : state_(std::move(state)), port_(port) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Start() {
  auto loop = AcceptLoop(state_);
  asio::co_spawn(state_->executor, std::move(loop), LogFailure);
}

void MetricsServer::Stop() {
  asio::dispatch(state_->executor, [state = state_] { state->Close(); });
}

}  // namespace longlink::admin
