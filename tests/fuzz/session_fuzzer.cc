// A whole client session through the proxy: the input is what a client sends, byte for byte
// (a login, then commands), as tests/fuzz/record_sessions.py captures from real clients.
//
// Each input runs a real ProxyContext (pools, janitor) and ClientSession on one event loop, as
// one worker of `longlink proxy` does, with the client on one end of a socketpair and the
// backend a ScriptedBackend (MariaDB 10.11's answers) on a Unix socket. The client writes the
// input, closes its sending side and reads whatever comes back. Findings: a crash, an ASan or
// UBSan report, a leak (libFuzzer's leak check covers each input: everything is torn down), an
// exception out of a session (it must never throw), and a hang: the session must end within
// kSessionBudget of the client's close.
//
// The proxy's users: "fuzz" with an empty password (a client's empty auth response logs in,
// whatever the scramble, so fuzzed logins get through) and "app" with a password (fuzzed
// logins as app are refused).
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include "common/log.h"
#include "config/proxy_config.h"
#include "net/io_buffer.h"
#include "net/socket.h"
#include "proxy/client_session.h"
#include "proxy/proxy_context.h"
#include "proxy/worker_sessions.h"
#include "scripted_backend.h"

namespace {

using longlink::config::ProxyConfig;
using longlink::config::SocketAddress;
namespace net = longlink::net;
namespace proxy = longlink::proxy;

// How long a session may take, from the client's close, to end. Generous: a sanitized build
// on a loaded machine; the session's own timeouts below are shorter.
constexpr auto kSessionBudget = std::chrono::seconds(10);

std::string BackendPath() {
  return "/tmp/longlink-session-fuzzer-" + std::to_string(::getpid()) + ".sock";
}

ProxyConfig Config() {
  ProxyConfig config;
  config.proxy.workers = 1;
  config.proxy.handshake_timeout = std::chrono::milliseconds(2000);
  config.listen.unix_socket = BackendPath() + ".unused";  // Validation wants one; never opened.
  config.backend.address.kind = SocketAddress::Kind::kUnix;
  config.backend.address.path = BackendPath();
  config.backend.connect_timeout = std::chrono::milliseconds(2000);
  config.backend.retry_timeout = std::chrono::milliseconds(500);
  config.pool.max_connections = 3;
  config.pool.min_idle = 1;
  config.pool.queue_timeout = std::chrono::milliseconds(500);
  longlink::config::UserSettings fuzz;
  fuzz.name = "fuzz";
  fuzz.password = "";
  longlink::config::UserSettings app;
  app.name = "app";
  app.password = "app-secret";
  config.users = {fuzz, app};
  if (auto valid = longlink::config::ValidateProxyConfig(config); !valid.ok()) {
    std::fprintf(stderr, "session_fuzzer: bad config: %s\n", valid.error().message.c_str());
    std::abort();
  }
  return config;
}

// The client: writes the whole input, closes its sending side, reads until the proxy closes.
net::Awaitable<void> Write(net::Socket& socket, const std::uint8_t* data, std::size_t size) {
  co_await asio::async_write(socket, asio::buffer(data, size), net::kNoThrow);
  std::error_code ignored;
  socket.shutdown(asio::socket_base::shutdown_send, ignored);
}

net::Awaitable<void> Read(net::Socket& socket) {
  std::uint8_t sink[4096];
  for (;;) {
    auto [error, n] = co_await socket.async_read_some(asio::buffer(sink), net::kNoThrow);
    if (error) co_return;
  }
}

void Fail(const char* what) {
  std::fprintf(stderr, "session_fuzzer: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  ::signal(SIGPIPE, SIG_IGN);
  const char* level = std::getenv("LONGLINK_FUZZ_LOG");  // "debug" to watch a session.
  auto parsed = longlink::ParseLogLevel(level ? level : "error");
  longlink::SetLogLevel(parsed.value_or(longlink::LogLevel::kError));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Destroyed in reverse: the event loop (and the sessions and connections suspended in it)
  // before the worker's sessions and buffers, and those before the pools, as in RunProxy.
  static const ProxyConfig config = Config();
  proxy::ProxyContext context(config);
  net::BufferPool buffers;
  proxy::WorkerSessions sessions;
  {
    asio::io_context io(1);
    longlink::fuzz::ScriptedBackend backend(io, BackendPath());
    backend.Start();
    sessions.Start(io.get_executor());
    context.AddWorker(&sessions);
    context.pools().Start(io.get_executor());

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) Fail("socketpair");
    const asio::generic::stream_protocol unix_stream(AF_UNIX, 0);
    net::Socket client(io, unix_stream, fds[0]);
    net::Socket server_side(io, unix_stream, fds[1]);

    if (!context.AdmitClient()) Fail("the first client was not admitted");
    proxy::ClientSession::SetInternalErrorHook(
        [](std::uint64_t) { Fail("an exception ended the ClientSession"); });
    sessions.Expect();
    proxy::ClientSession::Start(std::make_unique<proxy::ClientSession>(
        context, sessions, buffers, std::move(server_side), context.NextSessionId(), "localhost",
        /*admitted=*/true));
    asio::co_spawn(io, Write(client, data, size), [](std::exception_ptr) {});
    asio::co_spawn(io, Read(client), [](std::exception_ptr) {});

    const auto deadline = std::chrono::steady_clock::now() + kSessionBudget;
    while (sessions.load() != 0) {  // Until the session is gone.
      if (std::chrono::steady_clock::now() > deadline) {
        Fail("hang: the session did not end within 10 s (its client closes after the input)");
      }
      io.run_one_for(std::chrono::milliseconds(100));
    }
    io.stop();
    context.pools().Stop();  // Idle connections are bound to `io`, as in RunProxy.
  }
  return 0;
}
