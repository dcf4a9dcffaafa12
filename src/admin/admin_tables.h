// The tables of the admin console's SHOW commands, built from plain snapshots (so that they
// are tested without a proxy). Columns are documented in docs/ADMIN.md; names are stable
// (scripts and `longlink diagnose` read them by name).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "admin/proxy_snapshot.h"
#include "admin/result_table.h"
#include "config/proxy_config.h"
#include "pool/connection_registry.h"
#include "proxy/query_digests.h"
#include "proxy/worker_sessions.h"

namespace longlink::admin {

using SteadyTime = std::chrono::steady_clock::time_point;

// Per-pool counters of an earlier snapshot, for rates (SHOW STATS).
struct RateBase {
  ProxySnapshot snapshot = {};
  SteadyTime taken_at = {};
};

// SHOW POOLS: per pool, clients by state, pinned clients by reason, connections by state.
ResultTable PoolsTable(const ProxySnapshot& snapshot, const config::ProxyConfig& config);
// SHOW CLIENTS: one row per client connection, oldest first; at most `limit` rows.
ResultTable ClientsTable(std::vector<proxy::ClientInfo> clients, SteadyTime now,
                         std::optional<std::uint64_t> limit);
// SHOW SERVERS: one row per backend connection, oldest first; at most `limit` rows.
ResultTable ServersTable(std::vector<pool::ConnectionInfo> connections, bool tls, SteadyTime now,
                         std::optional<std::uint64_t> limit);
// SHOW BACKENDS: the backend server: health, connects, wait_timeout learnt, connections.
ResultTable BackendsTable(const ProxySnapshot& snapshot, const config::ProxyConfig& config);
// SHOW STATS: per pool totals, averages, and rates per second since `base` (an earlier
// snapshot; none: rates since start).
ResultTable StatsTable(const ProxySnapshot& snapshot, const std::optional<RateBase>& base,
                       SteadyTime now);
// SHOW TOTALS: name/value rows for the whole process.
ResultTable TotalsTable(const ProxySnapshot& snapshot);
// SHOW QUERIES: the statement digests, most total time first; at most `limit` rows.
ResultTable QueriesTable(std::vector<proxy::DigestRow> rows, std::optional<std::uint64_t> limit);
// SHOW CONFIG: key/value rows of the running configuration; secrets shown as "<hidden>".
ResultTable ConfigTable(const config::ProxyConfig& config);
// SHOW HELP: the commands and what they show.
ResultTable HelpTable();

}  // namespace longlink::admin
