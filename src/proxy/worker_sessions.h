// The client sessions of one worker thread, for the keepalive sweep: every
// Pools::kJanitorInterval, each session that holds a backend while its client is idle checks
// that backend (closed by the server? due for a ping?). Single-threaded: used only on the
// worker's own event loop.
#pragma once

#include <unordered_set>

#include "net/socket.h"

namespace longlink::proxy {

class ClientSession;

class WorkerSessions {
 public:
  void Add(ClientSession* session) { sessions_.insert(session); }
  void Remove(ClientSession* session) { sessions_.erase(session); }
  // Runs on the worker's loop until it stops.
  net::Awaitable<void> Sweep();

 private:
  std::unordered_set<ClientSession*> sessions_;
};

}  // namespace longlink::proxy
