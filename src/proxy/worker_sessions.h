// The client sessions of one worker thread, and how their held backends are looked after while
// their clients are idle. Every Pools::kJanitorInterval the sweep visits each session that is
// due (ClientSession::OnSweep): a busy one on every pass, an idle one when the first of its
// deadlines comes (which nothing but a command moves: the command makes it busy again,
// SweepEveryPass), so that thousands of idle clients cost a pass over one small array rather
// than a visit each (a cache miss or more per session). What a visit does: a client stalled in
// the middle of a packet for
// proxy.net_read_timeout is closed; for one that holds a backend while idle, a keepalive ping
// falls due by the clock (no system call); a client idle for kWatchAfter gets its backend socket
// into the worker's watched set (one epoll set), so that a server-side close or an unsolicited
// error (wait_timeout, KILL, shutdown) is noticed at once rather than by polling every socket on
// every pass. A session leaves the set when its client's next command arrives. Single-threaded: its
// state is touched only on the worker's own event loop (but load(), an atomic count); Find and
// Terminate, for KILL from other workers, get there by co_spawn on that loop.
#pragma once

#include <asio/any_io_executor.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/byte_stream.h"
#include "net/socket.h"
#include "pool/idle_watcher.h"

namespace longlink::proxy {

class ClientSession;

// What a KILL from another session needs to know of a session, read on the session's worker.
struct SessionView {
  std::string user = {};                 // Logged in as.
  std::uint32_t backend_thread = 0;      // CONNECTION_ID() of its backend; 0: it holds none.
  std::uint32_t backend_generation = 0;  // Counts its checkouts: a new backend, a new number.
  bool busy = false;                     // A command is in progress.
  // When it got its backend; and whether it has since run a statement that tells its thread
  // id (CONNECTION_ID(), @@pseudo_thread_id). A KILL by thread id acts on the session only if
  // the killer could know the id names it (WorkerSessions does not decide; HandleKill does).
  std::chrono::steady_clock::time_point leased_at = {};
  bool revealed_thread = false;
};

// One client session as the admin console's SHOW CLIENTS shows it, read on its worker.
struct ClientInfo {
  std::uint64_t id = 0;      // The session id (the greeting's connection id).
  std::string user = {};     // Empty until logged in.
  std::string address = {};  // "10.0.0.7:51234", or "unix" for the Unix socket.
  std::string schema = {};
  std::string pool = {};  // PoolKey::ToString(); empty until logged in.
  bool transaction_pooling = false;
  // "login" (greeting to OK), "waiting" (for a backend connection), "active" (a command in
  // progress), "idle" (between commands).
  std::string state = {};
  std::chrono::steady_clock::time_point connected_at = {};
  std::chrono::steady_clock::time_point idle_since = {};  // Last command's end; zero: none yet.
  std::uint32_t backend_thread = 0;                       // Held backend's thread id; 0: none.
  std::string pinned = {};                                // PinReasonName, empty if not pinned.
  bool tls = false;
  bool compressed = false;
};

class WorkerSessions {
 public:
  // How long a client is idle before its held backend is watched. Shorter idle gaps never
  // touch the set (a busy session costs no epoll calls); a backend that dies in that gap is
  // found by the check before the next command.
  static constexpr std::chrono::seconds kWatchAfter{1};

  // Adds a session, swept on every pass until it says otherwise; returns its place in the
  // sweep, for SweepEveryPass and Remove. REQUIRES: session ids are unique; Expect() was called
  // for it.
  std::size_t Add(std::uint64_t id, ClientSession* session);
  void Remove(std::uint64_t id, std::size_t slot);
  // The session at `slot` is busy again (its client sent a command): swept on every pass until
  // it next says when it is due.
  void SweepEveryPass(std::size_t slot) { due_[slot].at = {}; }
  // An acceptor has a session for this worker (from any thread, before it starts here).
  void Expect() { load_.fetch_add(1, std::memory_order_relaxed); }
  // This worker's sessions, counted from Expect() to Remove(): what the Unix-socket acceptor
  // balances the workers by. Any thread.
  std::size_t load() const { return load_.load(std::memory_order_relaxed); }
  // Watches `backend`, the stream of a backend held by session `id`: its OnBackendReadable()
  // runs when it turns readable or closes. False if epoll refused (the caller checks another
  // way).
  bool Watch(std::uint64_t id, const net::ByteStream& backend);
  // Stops watching `backend`. REQUIRES: before it is closed or handed on.
  void Unwatch(const net::ByteStream& backend) { watcher_.Remove(backend); }
  // Binds this set to its worker's event loop and starts the sweep and the watched set there
  // (they run until the loop stops).
  void Start(asio::any_io_executor executor);

  // For KILL, from any worker: the session with proxy id `id` among `workers`, with the set
  // that holds it. Visits each worker's loop in turn; resumes on the caller's.
  static net::Awaitable<std::optional<std::pair<WorkerSessions*, SessionView>>> Find(
      std::vector<WorkerSessions*> workers, std::uint64_t id);
  // For SHOW CLIENTS, from any worker: every session of `workers`, read on each one's loop in
  // turn; resumes on the caller's.
  static net::Awaitable<std::vector<ClientInfo>> Collect(std::vector<WorkerSessions*> workers);
  // For KILL CONNECTION, from any worker: shuts session `id`'s client connection (it ends as
  // if the client had gone; `by` names the killer in the log). Runs on this set's loop.
  net::Awaitable<void> Terminate(std::uint64_t id, std::uint64_t by);

 private:
  net::Awaitable<void> Sweep();
  net::Awaitable<std::optional<SessionView>> ViewOf(std::uint64_t id);
  net::Awaitable<std::vector<ClientInfo>> DescribeAll();
  net::Awaitable<void> TerminateHere(std::uint64_t id, std::uint64_t by);

  // A session's place in the sweep: when it is next due (the epoch: every pass); null session:
  // a free place (free_).
  struct Due {
    ClientSession* session = nullptr;
    std::chrono::steady_clock::time_point at = {};
  };

  asio::any_io_executor executor_;
  std::unordered_map<std::uint64_t, ClientSession*> sessions_;
  std::vector<Due> due_;           // Never shrinks: as long as the most sessions at once.
  std::vector<std::size_t> free_;  // Free places in due_.
  std::atomic<std::size_t> load_{0};
  pool::IdleWatcher watcher_;
};

}  // namespace longlink::proxy
