// The client sessions of one worker thread, and how their held backends are looked after while
// their clients are idle. Every Pools::kJanitorInterval the sweep visits each session that
// holds a backend while its client is idle: a keepalive ping falls due by the clock (no system
// call); a client idle for kWatchAfter gets its backend socket into the worker's watched set
// (one epoll set), so that a server-side close or an unsolicited error (wait_timeout, KILL,
// shutdown) is noticed at once rather than by polling every socket on every pass. A session
// leaves the set when its client's next command arrives. Single-threaded: used only on the
// worker's own event loop.
#pragma once

#include <chrono>
#include <unordered_set>

#include "net/socket.h"
#include "pool/idle_watcher.h"

namespace longlink::proxy {

class ClientSession;

class WorkerSessions {
 public:
  // How long a client is idle before its held backend is watched. Shorter idle gaps never
  // touch the set (a busy session costs no epoll calls); a backend that dies in that gap is
  // found by the check before the next command.
  static constexpr std::chrono::seconds kWatchAfter{1};

  void Add(ClientSession* session) { sessions_.insert(session); }
  void Remove(ClientSession* session) { sessions_.erase(session); }
  // Watches `fd`, a backend held by `session`: its OnBackendReadable() runs when the socket
  // turns readable or closes. False if epoll refused (the caller checks another way).
  bool Watch(ClientSession* session, int fd);
  // Stops watching `fd`. REQUIRES: before the descriptor is closed or handed on.
  void Unwatch(int fd) { watcher_.Remove(fd); }
  // Runs the sweep and the watched set on the worker's loop until it stops.
  net::Awaitable<void> Sweep();

 private:
  std::unordered_set<ClientSession*> sessions_;
  pool::IdleWatcher watcher_;
};

}  // namespace longlink::proxy
