// What `longlink diagnose` learned about a running `longlink proxy`: where it was found, whether
// its admin console answered, and the figures it reported (SHOW TOTALS, SHOW POOLS, SHOW
// CONFIG). Plain values, part of the Report. Every string that came from the proxy or its
// config has been made safe to print (LogSafe) and capped when it was read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longlink::diag {

// How far diagnose got with one proxy.
enum class ProxyReach : std::uint8_t {
  kConfigUnreadable,  // Its --config file could not be loaded (error says why).
  kNoAdminSocket,     // Its config has no [admin] unix_socket: the console is off.
  kUnreachable,       // The admin socket did not accept a connection (error says why).
  kRefused,           // The admin console refused the login (error holds its ERR).
  kFailed,            // Logged in, but the figures could not be read (error says why).
  kRead,              // Figures read.
};

// SHOW TOTALS, by row name (docs/ADMIN.md). Absent rows read as 0 / empty.
struct ProxyTotals {
  std::string version;
  std::uint64_t uptime_seconds = 0;
  std::uint64_t clients_connected = 0;
  std::uint64_t max_client_connections = 0;
  std::uint64_t client_connections_total = 0;
  std::uint64_t clients_refused_total = 0;
  std::uint64_t login_failures_total = 0;
  std::uint64_t logins_total = 0;
  std::uint64_t logins_last_minute = 0;
  std::uint64_t server_connects_total = 0;
  std::uint64_t server_connects_last_minute = 0;
  std::uint64_t server_connects_saved_total = 0;
  std::uint64_t queries_total = 0;
  std::uint64_t wait_count = 0;
  std::uint64_t wait_max_us = 0;
  std::uint64_t pools = 0;
  std::uint64_t clients_waiting = 0;
  std::uint64_t clients_pinned = 0;
  std::string backend_address;
  bool backend_reachable = false;
  std::uint64_t backend_connections = 0;
  std::uint64_t backend_max_connections = 0;
};

// One row of SHOW POOLS.
struct ProxyPool {
  std::string user;
  std::string pool;
  std::string mode;
  std::uint64_t cl_active = 0, cl_waiting = 0, cl_idle = 0, cl_pinned = 0;
  std::uint64_t sv_active = 0, sv_idle = 0, sv_opening = 0, sv_checking = 0;
  std::uint64_t max_connections = 0;
  std::uint64_t maxwait_us = 0;   // The longest wait of a client waiting now.
  std::uint64_t wait_max_us = 0;  // The longest wait since start.
  std::string pin_reasons;        // "user_variable=2,temporary_table=1", or empty.

  // Server connections held or being opened.
  std::uint64_t ServerConnections() const { return sv_active + sv_idle + sv_opening; }
  // At 90% of max_connections or more, or clients waiting for a connection now.
  bool NearLimit() const {
    return (max_connections > 0 && ServerConnections() * 10 >= max_connections * 9) ||
           cl_waiting > 0 || maxwait_us > 0;
  }
};

// The SHOW CONFIG keys diagnose uses.
struct ProxyListeners {
  std::vector<std::string> tcp;  // listen.tcp: "HOST:PORT" each.
  std::string unix_socket;       // listen.unix_socket, or empty.
  std::string backend_address;   // backend.address.
  std::string pool_mode;         // pool.mode.
  std::uint64_t pool_max_connections = 0;
};

struct ProxyStatus {
  int pid = 0;               // 0: named by --proxy-admin, process not known.
  std::string config_file;   // As resolved (absolute), or empty.
  std::string admin_socket;  // [admin] unix_socket or --proxy-admin; empty when off.
  ProxyReach reach = ProxyReach::kNoAdminSocket;
  std::string error;  // Why not kRead.
  ProxyTotals totals;
  std::vector<ProxyPool> pools;
  ProxyListeners config;

  bool read() const { return reach == ProxyReach::kRead; }
  // Server connections not opened in the last minute although clients logged in: each would
  // have been a TCP connection to the database closed by now, so about this many sockets would
  // be in TIME_WAIT (Linux keeps it 60 s) without the proxy.
  std::uint64_t TimeWaitAvoided() const {
    return totals.logins_last_minute > totals.server_connects_last_minute
               ? totals.logins_last_minute - totals.server_connects_last_minute
               : 0;
  }
  // "longlink proxy pid 812", or "longlink proxy at PATH" without a pid.
  std::string Name() const;
};

std::string_view ProxyReachName(ProxyReach reach);  // "read", "no_admin_socket", ...

}  // namespace longlink::diag
