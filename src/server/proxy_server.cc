#include "server/proxy_server.h"

#include <malloc.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "admin/admin_console.h"
#include "admin/metrics_http.h"
#include "admin/metrics_text.h"
#include "admin/proxy_snapshot.h"
#include "common/log.h"
#include "common/log_rate_limit.h"
#include "net/io_buffer.h"
#include "net/packet_io.h"
#include "net/socket.h"
#include "protocol/packets.h"
#include "proxy/client_session.h"
#include "proxy/descriptor_limit.h"
#include "proxy/proxy_context.h"
#include "server/listeners.h"

namespace longlink::proxy {

namespace {

// Member order matters: sessions still suspended at shutdown are destroyed with `io`, give
// their buffers back to `buffers` and leave `sessions`.
struct Worker {
  net::BufferPool buffers;
  WorkerSessions sessions;
  asio::io_context io{1};
  std::thread thread;
};

std::string PeerHost(const net::Socket& socket) {
  std::error_code error;
  const auto endpoint = socket.remote_endpoint(error);
  if (error) return "unknown";
  if (endpoint.protocol().family() == AF_UNIX) return "localhost";
  const auto address = net::IpAddressOf(endpoint);
  if (!address) return "unknown";
  return address->is_loopback() ? "localhost" : address->to_string();
}

// Starts the session of an accepted client on `worker` (call on its thread).
void StartSession(ProxyContext& context, Worker& worker, net::Socket socket, std::uint64_t id,
                  std::string host, bool admitted) {
  auto session = std::make_unique<ClientSession>(context, worker.sessions, worker.buffers,
                                                 std::move(socket), id, std::move(host), admitted);
  ClientSession::Start(std::move(session));
}

// Counts an accepted client in (max_client_connections), or logs its refusal.
bool Admit(ProxyContext& context) {
  const bool admitted = context.AdmitClient();
  static LogRateLimit refusals;
  if (!admitted) {
    if (auto note = refusals.Admit(); note.write) {
      Log(LogLevel::kWarning, 0, "refusing a client: max_client_connections={} reached{}",
          context.config().proxy.max_client_connections, note.suffix);
    }
  }
  return admitted;
}

// Accepts on a listening socket of `worker`'s own (a TCP one per worker, SO_REUSEPORT; or the
// only worker's) and serves each client there.
net::Awaitable<void> AcceptLoop(ProxyContext& context, Worker& worker, net::Acceptor& acceptor,
                                bool tcp) {
  for (;;) {
    auto [error, socket] = co_await acceptor.async_accept(net::kNoThrow);
    if (error) {
      auto failed = net::SurviveAcceptFailure(error, "accept");
      if (!co_await std::move(failed)) co_return;
      continue;
    }
    if (tcp) {
      const int one = 1;
      ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    const bool admitted = Admit(context);
    std::string host = tcp ? PeerHost(socket) : "localhost";
    worker.sessions.Expect();
    StartSession(context, worker, std::move(socket), context.NextSessionId(), std::move(host),
                 admitted);
  }
}

// The worker with the fewest sessions; the first (the Unix acceptor's own) on a tie.
Worker& LeastLoaded(const std::vector<std::unique_ptr<Worker>>& workers) {
  Worker* least = workers.front().get();
  for (const auto& worker : workers) {
    if (worker->sessions.load() < least->sessions.load()) least = worker.get();
  }
  return *least;
}

// Accepts on a Unix socket for all the workers (Linux has no SO_REUSEPORT for Unix sockets):
// only this loop's worker (the first) waits on the listener, so a connection wakes one thread
// (a listener in every worker's epoll wakes them all, and all but one find nothing to accept).
// Each client goes to the worker with the fewest sessions when it arrives, this one on a tie:
// a lone client's sessions stay on this thread and wake no other. So the accept is
// non-blocking, straight onto the chosen worker's loop; when no client is there, the loop
// waits for the listener to turn readable (Asio re-arms it: one epoll_ctl) and chooses again.
// A backlog is accepted without waiting.
net::Awaitable<void> SharedAcceptLoop(ProxyContext& context,
                                      const std::vector<std::unique_ptr<Worker>>& workers,
                                      net::Acceptor& acceptor) {
  Worker& here = *workers.front();
  std::error_code blocking;
  acceptor.non_blocking(true, blocking);
  if (blocking) {
    Log(LogLevel::kError, 0, "cannot make the Unix socket's listener non-blocking: {}",
        blocking.message());
    co_return;
  }
  // Accepts in a row before the loop lets this worker's sessions run.
  constexpr int kAcceptsInARow = 16;
  int in_a_row = 0;
  for (;;) {
    if (in_a_row == kAcceptsInARow) {
      in_a_row = 0;
      auto yield = asio::post(here.io.get_executor(), asio::use_awaitable);
      co_await std::move(yield);
    }
    Worker& target = LeastLoaded(workers);
    net::Socket socket(target.io);
    std::error_code error;
    acceptor.accept(socket, error);
    if (error == asio::error::would_block || error == asio::error::try_again) {
      in_a_row = 0;
      auto [waited] = co_await acceptor.async_wait(net::Acceptor::wait_read, net::kNoThrow);
      if (!waited) continue;  // A client is there: choose its worker now.
      error = waited;
    }
    if (error) {
      auto failed = net::SurviveAcceptFailure(error, "accept");
      if (!co_await std::move(failed)) co_return;
      continue;
    }
    ++in_a_row;
    const bool admitted = Admit(context);
    const std::uint64_t id = context.NextSessionId();
    target.sessions.Expect();
    if (&target == &here) {
      StartSession(context, here, std::move(socket), id, "localhost", admitted);
      continue;
    }
    asio::post(target.io, [&context, &target, socket = std::move(socket), id, admitted]() mutable {
      StartSession(context, target, std::move(socket), id, "localhost", admitted);
    });
  }
}

// Every kTrimInterval, hands memory that malloc holds free back to the system. Session buffers
// (16 KiB, below glibc's mmap threshold) come from the heap; after a burst (a server restart
// makes every session reattach at once) the freed ones would otherwise keep the process at its
// high-water mark for good (a 1,000-client soak: 13.7 MiB before a restart, 36 MiB after).
// malloc_trim releases free pages anywhere in the heap (madvise), not only at its top.
net::Awaitable<void> ReturnFreeMemory() {
  constexpr auto kTrimInterval = std::chrono::seconds(10);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(kTrimInterval);
    auto [error] = co_await timer.async_wait(net::kNoThrow);
    if (error) co_return;
#ifdef __GLIBC__
    ::malloc_trim(0);
#endif
  }
}

// Learns the backend's version and capabilities before the first client arrives, so the
// greeting mirrors them; retries until the backend answers.
net::Awaitable<void> ProbeBackend(ProxyContext& context) {
  auto executor = co_await asio::this_coro::executor;
  for (int attempt = 0; !context.server_identity_known(); ++attempt) {
    auto socket = co_await net::Connect(executor, context.config().backend.address,
                                        context.config().backend.connect_timeout);
    if (socket.ok()) {
      net::IoBuffer buffer(4096);
      net::Deadline deadline(*socket, context.config().backend.connect_timeout);
      auto greeting = co_await net::ReadPacket(*socket, buffer, 1 << 16);
      if (greeting.ok()) {
        auto decoded = protocol::Decode<protocol::HandshakeV10>(greeting.packet.payload);
        if (decoded.ok()) {
          context.LearnServerIdentity(pool::IdentityOf(*decoded));
          Log(LogLevel::kInfo, 0, "backend {} is {}", context.config().backend.address.ToString(),
              decoded->server_version);
          co_return;
        }
      }
    } else if (attempt == 0) {
      Log(LogLevel::kWarning, 0, "backend not reachable yet: {}", socket.error().message);
    }
    asio::steady_timer pause(executor, std::chrono::seconds(1));
    co_await pause.async_wait(net::kNoThrow);
  }
}

}  // namespace

int RunProxy(const config::ProxyConfig& config) {
  if (auto level = ParseLogLevel(config.proxy.log_level)) SetLogLevel(*level);
  // Signals are caught from here on (asio queues them until the waits below): a SIGTERM while
  // the proxy starts (an RSA key to make, listeners to open) is a clean stop, not a kill.
  asio::io_context main_io(1);
  asio::signal_set reloads(main_io, SIGHUP);
  asio::signal_set signals(main_io, SIGINT, SIGTERM);
  ProxyContext context(config);
  if (auto tls = context.LoadTls(); !tls.ok()) {
    Log(LogLevel::kError, 0, "{}", tls.error().message);
    return 1;
  }

  // Its sessions run on worker 0; it outlives the workers.
  admin::AdminConsole console(context);

  std::vector<Listener> listeners;
  std::vector<Listener> admin_listeners;
  auto close_listeners = [&] {
    for (auto& l : listeners) CloseListener(l);
    for (auto& l : admin_listeners) CloseListener(l);
  };
  const unsigned worker_count = config.proxy.workers > 0
                                    ? config.proxy.workers
                                    : std::max(1U, std::thread::hardware_concurrency());
  for (const auto& address : config.listen.tcp) {
    // One socket per worker: no accept herd between the workers.
    auto listener = ListenTcp(address, config.listen.backlog, worker_count);
    if (!listener.ok()) {
      Log(LogLevel::kError, 0, "{}", listener.error().message);
      close_listeners();
      return 1;
    }
    listeners.push_back(*listener);
  }
  if (!config.listen.unix_socket.empty()) {
    auto listener = ListenUnix(config.listen.unix_socket, config.listen.unix_socket_mode,
                               config.listen.backlog);
    if (!listener.ok()) {
      Log(LogLevel::kError, 0, "{}", listener.error().message);
      close_listeners();
      return 1;
    }
    listeners.push_back(*listener);
  }
  if (!config.admin.unix_socket.empty()) {
    auto listener =
        ListenUnix(config.admin.unix_socket, config.admin.unix_socket_mode, config.listen.backlog);
    if (!listener.ok()) {
      Log(LogLevel::kError, 0, "admin console: {}", listener.error().message);
      close_listeners();
      return 1;
    }
    admin_listeners.push_back(*listener);
  }
  for (const auto& address : config.admin.tcp) {
    auto listener = ListenTcp(address, config.listen.backlog);
    if (!listener.ok()) {
      Log(LogLevel::kError, 0, "admin console: {}", listener.error().message);
      close_listeners();
      return 1;
    }
    admin_listeners.push_back(*listener);
  }

  const std::uint64_t needed = DescriptorsNeeded(
      config.proxy.max_client_connections,
      std::uint64_t{config.pool.max_connections} * config.users.size(),
      std::uint64_t{worker_count + 1} * listeners.size() + 2 * admin_listeners.size());
  const DescriptorLimit limit = EnsureDescriptorLimit(needed);
  if (!limit.enough) {
    Log(LogLevel::kWarning, 0,
        "file descriptor limit {} (hard {}) is below the {} that proxy.max_client_connections={} "
        "and pool.max_connections={} can use; clients beyond it are refused at accept: raise "
        "it (ulimit -n, LimitNOFILE= in a systemd unit) or lower those keys",
        limit.now, limit.hard, needed, config.proxy.max_client_connections,
        config.pool.max_connections);
  } else if (limit.now != limit.before) {
    Log(LogLevel::kDebug, 0, "file descriptor limit raised from {} to {}", limit.before, limit.now);
  }

  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<net::Acceptor>> acceptors;
  std::vector<std::unique_ptr<net::Acceptor>> shared_acceptors;  // Worker 0's, for all.
  for (unsigned i = 0; i < worker_count; ++i) {
    workers.push_back(std::make_unique<Worker>());
    Worker& worker = *workers.back();
    for (const auto& listener : listeners) {
      // A Unix socket of several workers is accepted on by worker 0 alone (SharedAcceptLoop).
      const bool shared = listener.unix_socket && worker_count > 1;
      if (shared && i > 0) continue;
      const int fd = ::dup(WorkerFd(listener, i));
      auto acceptor = std::make_unique<net::Acceptor>(worker.io);
      std::error_code error;
      acceptor->assign(asio::generic::stream_protocol(listener.family, listener.protocol), fd,
                       error);
      if (error) {
        Log(LogLevel::kError, 0, "listen {}: {}", listener.name, error.message());
        close_listeners();
        return 1;
      }
      if (shared) {
        shared_acceptors.push_back(std::move(acceptor));
        continue;
      }
      asio::co_spawn(worker.io, AcceptLoop(context, worker, *acceptor, !listener.unix_socket),
                     [](std::exception_ptr) {});
      acceptors.push_back(std::move(acceptor));
    }
    worker.sessions.Start(worker.io.get_executor());
    context.AddWorker(&worker.sessions);
  }
  for (const auto& acceptor : shared_acceptors) {
    asio::co_spawn(workers[0]->io, SharedAcceptLoop(context, workers, *acceptor),
                   [](std::exception_ptr) {});
  }
  context.accounts().Start(workers[0]->io.get_executor());
  // Made now rather than on a worker at the first full authentication (a 2048-bit key takes a
  // while); only a proxy that reads accounts from the server needs it early.
  if (context.accounts().lookups_enabled()) context.rsa_key();
  asio::co_spawn(workers[0]->io, ProbeBackend(context), [](std::exception_ptr) {});
  asio::co_spawn(workers[0]->io, ReturnFreeMemory(), [](std::exception_ptr) {});
  context.pools().Start(workers[0]->io.get_executor());
  // The admin console and /metrics: worker 0's loop (their work is small and rare).
  for (Listener& listener : admin_listeners) {
    auto acceptor = std::make_unique<net::Acceptor>(workers[0]->io);
    std::error_code error;
    acceptor->assign(asio::generic::stream_protocol(listener.family, listener.protocol),
                     ::dup(listener.fd), error);
    if (error) {
      Log(LogLevel::kError, 0, "admin console {}: {}", listener.name, error.message());
      close_listeners();
      return 1;
    }
    asio::co_spawn(workers[0]->io, console.AcceptLoop(*acceptor, workers[0]->buffers),
                   [](std::exception_ptr) {});
    acceptors.push_back(std::move(acceptor));
  }
  if (config.admin.enabled()) console.Start(workers[0]->io.get_executor());
  std::unique_ptr<admin::MetricsServer> metrics;
  if (config.metrics.listen) {
    auto server = admin::MetricsServer::Listen(
        workers[0]->io.get_executor(), *config.metrics.listen,
        [&context] { return admin::RenderPrometheus(admin::TakeSnapshot(context)); });
    if (!server.ok()) {
      Log(LogLevel::kError, 0, "{}", server.error().message);
      close_listeners();
      return 1;
    }
    metrics = std::move(*server);
    metrics->Start();
  }

  // SIGHUP: forget the accounts read from the server (as FLUSH PRIVILEGES does for the server's
  // own cache; each is read again at its next login), and load the TLS certificates again.
  std::function<void(const std::error_code&, int)> on_reload = [&](const std::error_code& error,
                                                                   int) {
    if (error) return;
    context.accounts().Forget();
    Log(LogLevel::kInfo, 0, "SIGHUP: accounts are read again from the server at their next login");
    context.ReloadTls();
    reloads.async_wait(on_reload);
  };
  reloads.async_wait(on_reload);
  signals.async_wait([&](const std::error_code& error, int number) {
    if (error) return;
    Log(LogLevel::kInfo, 0, "stopping on signal {}", number);
    for (const PoolStatsSnapshot& pool : context.PoolStatistics()) {
      Log(LogLevel::kInfo, 0, "{}", DescribePool(pool));
    }
    reloads.cancel();
    for (auto& worker : workers) worker->io.stop();
  });
  ::signal(SIGPIPE, SIG_IGN);

  std::string names;
  for (const auto& l : listeners) names += (names.empty() ? "" : ", ") + l.name;
  for (const auto& l : admin_listeners) names += ", admin console " + l.name;
  if (config.metrics.listen) names += ", metrics http://" + config.metrics.listen->ToString();
  Log(LogLevel::kInfo, 0, "ready: listening on {}; backend {}; {} worker{}", names,
      config.backend.address.ToString(), worker_count, worker_count == 1 ? "" : "s");

  for (std::size_t i = 0; i < workers.size(); ++i) {
    workers[i]->thread = std::thread([&io = workers[i]->io, i] {
      // "worker-N" in top -H, ps -L and /proc/PID/task/*/comm.
      const std::string name = "worker-" + std::to_string(i);
      ::pthread_setname_np(::pthread_self(), name.c_str());
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  main_io.run();  // Until a signal.
  for (auto& worker : workers) worker->thread.join();
  context.accounts().Stop();  // The lookup connection's loop has stopped.
  if (metrics) metrics->Stop();
  metrics.reset();
  // Idle backend connections may be bound to a worker's loop: closed before the loops go.
  context.pools().Stop();
  // Sessions still suspended are destroyed with their io_context, before the pools.
  acceptors.clear();
  shared_acceptors.clear();
  workers.clear();
  close_listeners();
  Log(LogLevel::kInfo, 0, "stopped");
  return 0;
}

}  // namespace longlink::proxy
