// What the proxy process is doing, at one moment, as plain values: the figures the admin
// console's SHOW commands and the Prometheus /metrics endpoint both show (docs/ADMIN.md).
// Taking one locks each pool's bookkeeping briefly (ProxyContext::PoolStatistics); sessions
// are never stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/pool_stats.h"

namespace longlink::proxy {
class ProxyContext;
}

namespace longlink::admin {

// The process: who it is and what reached its data listeners.
struct ProcessSnapshot {
  std::string version = {};  // longlink's.
  std::uint64_t pid = 0;
  std::chrono::system_clock::time_point started_at = {};
  double uptime_seconds = 0;
  unsigned workers = 0;
  // Client connections now (after accept, admitted), accepted since start, refused at
  // max_client_connections, and failed logins (wrong password, unknown user, ...).
  std::int64_t clients_connected = 0;
  std::uint64_t client_connections = 0;
  std::uint64_t clients_refused = 0;
  std::uint64_t login_failures = 0;
  std::uint32_t max_client_connections = 0;
  std::uint64_t logins_last_minute = 0;  // Client logins served in the last 60 s.
};

// The backend server as the pools see it.
struct BackendSnapshot {
  std::string address = {};         // As configured ("127.0.0.1:3306", "/run/mysqld/...").
  std::string server_version = {};  // From its greeting; empty until it answered once.
  bool reachable = true;            // No failed attempt since the last connection opened.
  double down_seconds = 0;          // How long it has been unreachable (0 if reachable).
  std::uint64_t connects = 0;       // Connections opened since start (all pools).
  std::uint64_t connects_last_minute = 0;
  std::uint64_t connect_failures = 0;
  std::string last_error = {};        // Of the last failed attempt; empty if none.
  std::uint32_t wait_timeout = 0;     // Learnt from the last connection opened (s); 0: not yet.
  std::uint32_t max_connections = 0;  // backend.max_connections.
  bool tls = false;                   // [backend_tls] is on.
  // Connections of every pool, by state.
  std::uint32_t opening = 0;
  std::uint32_t idle = 0;
  std::uint32_t checking = 0;
  std::uint32_t moving = 0;
  std::uint32_t active = 0;
};

struct ProxySnapshot {
  ProcessSnapshot process = {};
  BackendSnapshot backend = {};
  // One per pool used since start (user, capabilities, collation), in a stable order: by
  // user, then key text.
  std::vector<proxy::PoolStatsSnapshot> pools = {};
};

// Thread-safe: any thread, any time after the proxy started.
ProxySnapshot TakeSnapshot(proxy::ProxyContext& context);

}  // namespace longlink::admin
