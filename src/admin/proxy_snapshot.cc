#include "admin/proxy_snapshot.h"

#include <unistd.h>

#include <algorithm>

#include "proxy/proxy_context.h"
#include "version.h"

namespace longlink::admin {

ProxySnapshot TakeSnapshot(proxy::ProxyContext& context) {
  using std::chrono::duration;
  ProxySnapshot out;
  const config::ProxyConfig& config = context.config();
  const auto now = std::chrono::steady_clock::now();

  ProcessSnapshot& process = out.process;
  process.version = kVersion;
  process.pid = static_cast<std::uint64_t>(::getpid());
  process.started_at = context.started_at();
  process.uptime_seconds = duration<double>(now - context.started_steady()).count();
  process.workers = static_cast<unsigned>(context.workers().size());
  process.clients_connected = context.clients_connected();
  process.client_connections = context.clients_accepted();
  process.clients_refused = context.clients_refused();
  process.login_failures = context.login_failures().Total();
  process.max_client_connections = config.proxy.max_client_connections;
  process.logins_last_minute = context.logins_last_minute();

  BackendSnapshot& backend = out.backend;
  backend.address = config.backend.address.ToString();
  if (context.server_identity_known()) backend.server_version = context.ServerIdentity().version;
  const pool::BackendHealthSnapshot health = context.pools().Health();
  backend.reachable = health.reachable;
  if (!health.reachable) backend.down_seconds = duration<double>(now - health.down_since).count();
  backend.connects = health.connects;
  backend.connects_last_minute = health.connects_last_minute;
  backend.connect_failures = health.failures;
  backend.last_error = health.last_error;
  backend.wait_timeout = health.wait_timeout;
  backend.max_connections = config.backend.max_connections;
  backend.tls = config.backend_tls.enabled;

  out.pools = context.PoolStatistics();
  std::sort(out.pools.begin(), out.pools.end(), [](const auto& a, const auto& b) {
    if (a.key.user != b.key.user) return a.key.user < b.key.user;
    return a.key.ToString() < b.key.ToString();
  });
  for (const proxy::PoolStatsSnapshot& pool : out.pools) {
    backend.opening += pool.backend_opening;
    backend.idle += pool.backend_idle;
    backend.checking += pool.backend_checking;
    backend.moving += pool.backend_moving;
    backend.active += pool.backend_active;
  }
  return out;
}

}  // namespace longlink::admin
