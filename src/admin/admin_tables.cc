#include "admin/admin_tables.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>

#include "common/log_text.h"
#include "proxy/pin_reason.h"

namespace longlink::admin {

namespace {

using std::chrono::duration;

constexpr ColumnKind kText = ColumnKind::kText;
constexpr ColumnKind kInt = ColumnKind::kInteger;
constexpr ColumnKind kDec = ColumnKind::kDecimal;

std::string Int(std::uint64_t value) { return std::to_string(value); }
std::string SignedInt(std::int64_t value) { return std::to_string(value); }
std::string Bool(bool value) { return value ? "1" : "0"; }

// Seconds with millisecond precision ("12.345").
std::string Seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", seconds < 0 ? 0.0 : seconds);
  return text;
}
std::string Since(SteadyTime then, SteadyTime now) {
  if (then == SteadyTime{}) return "";
  return Seconds(duration<double>(now - then).count());
}
std::string Rate(std::uint64_t now_value, std::uint64_t then_value, double seconds) {
  if (seconds <= 0 || now_value < then_value) return Seconds(0);
  return Seconds(static_cast<double>(now_value - then_value) / seconds);
}
std::uint64_t Average(std::uint64_t total, std::uint64_t count) {
  return count == 0 ? 0 : total / count;
}

std::string ModeName(config::PoolMode mode) {
  return mode == config::PoolMode::kTransaction ? "transaction" : "session";
}

std::int64_t IdleClients(const proxy::PoolStatsSnapshot& pool) {
  return std::max<std::int64_t>(0, pool.clients - pool.clients_holding - pool.clients_waiting);
}

std::int64_t PinnedClients(const proxy::PoolStatsSnapshot& pool) {
  std::int64_t pinned = 0;
  for (std::size_t i = 1; i < proxy::kPinReasonCount; ++i) pinned += pool.pinned[i];
  return pinned;
}

std::string PinReasons(const proxy::PoolStatsSnapshot& pool) {
  std::string text;
  for (std::size_t i = 1; i < proxy::kPinReasonCount; ++i) {
    if (pool.pinned[i] <= 0) continue;
    if (!text.empty()) text += ",";
    text += std::string(proxy::PinReasonName(static_cast<proxy::PinReason>(i))) + "=" +
            SignedInt(pool.pinned[i]);
  }
  return text;
}

// The pool counters summed over every pool.
proxy::PoolStatsSnapshot Sum(const std::vector<proxy::PoolStatsSnapshot>& pools) {
  proxy::PoolStatsSnapshot total;
  for (const proxy::PoolStatsSnapshot& pool : pools) {
    total.clients += pool.clients;
    total.clients_holding += pool.clients_holding;
    total.clients_waiting += pool.clients_waiting;
    for (std::size_t i = 0; i < proxy::kPinReasonCount; ++i) total.pinned[i] += pool.pinned[i];
    total.releases += pool.releases;
    total.reattaches += pool.reattaches;
    total.state_replays += pool.state_replays;
    total.resets_for_replay += pool.resets_for_replay;
    total.prepares_asked += pool.prepares_asked;
    total.prepares_sent += pool.prepares_sent;
    total.statement_cache_hits += pool.statement_cache_hits;
    total.statement_evictions += pool.statement_evictions;
    total.logins += pool.logins;
    total.commands += pool.commands;
    total.queries += pool.queries;
    total.transactions += pool.transactions;
    total.errors += pool.errors;
    total.bytes_from_clients += pool.bytes_from_clients;
    total.bytes_to_clients += pool.bytes_to_clients;
    total.command_latency += pool.command_latency;
    total.checkout_wait += pool.checkout_wait;
    total.backend_idle += pool.backend_idle;
    total.backend_active += pool.backend_active;
    total.backend_opening += pool.backend_opening;
    total.backend_checking += pool.backend_checking;
    total.backend_moving += pool.backend_moving;
    total.backend_opened += pool.backend_opened;
    total.longest_wait_us = std::max(total.longest_wait_us, pool.longest_wait_us);
  }
  return total;
}

// Text from outside (user names, schemas) as the log writes it: control bytes escaped.
std::string Safe(const std::string& text) { return LogSafe(text); }

std::vector<std::string> StatsRow(const std::string& user, const std::string& pool,
                                  const proxy::PoolStatsSnapshot& now,
                                  const proxy::PoolStatsSnapshot* then, double seconds) {
  const proxy::PoolStatsSnapshot zero;
  const proxy::PoolStatsSnapshot& base = then != nullptr ? *then : zero;
  return {user,
          pool,
          Int(now.logins),
          Int(now.backend_opened),
          Int(now.commands),
          Int(now.queries),
          Int(now.transactions),
          Int(now.errors),
          Int(now.bytes_from_clients),
          Int(now.bytes_to_clients),
          Int(now.command_latency.sum_us),
          Int(Average(now.command_latency.sum_us, now.command_latency.count)),
          Int(now.command_latency.max_us),
          Int(now.checkout_wait.count),
          Int(now.checkout_wait.sum_us),
          Int(Average(now.checkout_wait.sum_us, now.checkout_wait.count)),
          Int(now.checkout_wait.max_us),
          Rate(now.logins, base.logins, seconds),
          Rate(now.queries, base.queries, seconds),
          Rate(now.transactions, base.transactions, seconds),
          Rate(now.bytes_from_clients, base.bytes_from_clients, seconds),
          Rate(now.bytes_to_clients, base.bytes_to_clients, seconds),
          Int(now.releases),
          Int(now.reattaches),
          Int(now.state_replays),
          Int(now.prepares_asked),
          Int(now.prepares_sent),
          Int(now.statement_cache_hits),
          Int(now.statement_evictions)};
}

}  // namespace

ResultTable PoolsTable(const ProxySnapshot& snapshot, const config::ProxyConfig& config) {
  ResultTable table;
  table.columns = {{"user", kText},      {"pool", kText},       {"mode", kText},
                   {"cl_active", kInt},  {"cl_waiting", kInt},  {"cl_idle", kInt},
                   {"cl_pinned", kInt},  {"sv_active", kInt},   {"sv_idle", kInt},
                   {"sv_opening", kInt}, {"sv_checking", kInt}, {"max_connections", kInt},
                   {"maxwait_us", kInt}, {"wait_max_us", kInt}, {"pin_reasons", kText}};
  for (const proxy::PoolStatsSnapshot& pool : snapshot.pools) {
    table.rows.push_back(
        {Safe(pool.key.user), Safe(pool.key.ToString()), ModeName(pool.mode),
         SignedInt(pool.clients_holding), SignedInt(pool.clients_waiting),
         SignedInt(IdleClients(pool)), SignedInt(PinnedClients(pool)), Int(pool.backend_active),
         Int(pool.backend_idle), Int(pool.backend_opening),
         Int(pool.backend_checking + pool.backend_moving), Int(config.pool.max_connections),
         Int(pool.longest_wait_us), Int(pool.checkout_wait.max_us), PinReasons(pool)});
  }
  return table;
}

ResultTable ClientsTable(std::vector<proxy::ClientInfo> clients, SteadyTime now,
                         std::optional<std::uint64_t> limit) {
  std::sort(clients.begin(), clients.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  if (limit && clients.size() > *limit) clients.resize(*limit);
  ResultTable table;
  table.columns = {
      {"id", kInt},        {"user", kText},          {"address", kText}, {"schema", kText},
      {"pool", kText},     {"mode", kText},          {"state", kText},   {"age_s", kDec},
      {"idle_s", kDec},    {"backend_thread", kInt}, {"pinned", kText},  {"tls", kInt},
      {"compressed", kInt}};
  for (const proxy::ClientInfo& client : clients) {
    table.rows.push_back(
        {Int(client.id), Safe(client.user), client.address, Safe(client.schema), Safe(client.pool),
         client.user.empty() ? "" : (client.transaction_pooling ? "transaction" : "session"),
         client.state, Since(client.connected_at, now),
         client.state == "idle" ? Since(client.idle_since, now) : "", Int(client.backend_thread),
         client.pinned, Bool(client.tls), Bool(client.compressed)});
  }
  return table;
}

ResultTable ServersTable(std::vector<pool::ConnectionInfo> connections, bool tls, SteadyTime now,
                         std::optional<std::uint64_t> limit) {
  std::sort(connections.begin(), connections.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  if (limit && connections.size() > *limit) connections.resize(*limit);
  ResultTable table;
  table.columns = {{"id", kInt},     {"thread_id", kInt}, {"user", kText}, {"pool", kText},
                   {"state", kText}, {"client", kInt},    {"age_s", kDec}, {"state_s", kDec},
                   {"idle_s", kDec}, {"tls", kInt}};
  for (const pool::ConnectionInfo& connection : connections) {
    const bool idle = connection.state == pool::ConnectionState::kIdle;
    table.rows.push_back({Int(connection.id), Int(connection.thread_id), Safe(connection.key.user),
                          Safe(connection.key.ToString()),
                          std::string(pool::ToString(connection.state)),
                          connection.session ? Int(*connection.session) : "",
                          Since(connection.opened_at, now), Since(connection.changed_at, now),
                          idle ? Since(connection.last_used_at, now) : "", Bool(tls)});
  }
  return table;
}

ResultTable BackendsTable(const ProxySnapshot& snapshot, const config::ProxyConfig& config) {
  const BackendSnapshot& backend = snapshot.backend;
  ResultTable table;
  table.columns = {{"address", kText},         {"server_version", kText},
                   {"reachable", kInt},        {"down_s", kDec},
                   {"connects", kInt},         {"connects_last_minute", kInt},
                   {"connect_failures", kInt}, {"last_error", kText},
                   {"wait_timeout", kInt},     {"keepalive_s", kDec},
                   {"connections", kInt},      {"max_connections", kInt},
                   {"opening", kInt},          {"idle", kInt},
                   {"checking", kInt},         {"moving", kInt},
                   {"active", kInt},           {"tls", kInt}};
  double keepalive = duration<double>(config.pool.keepalive_interval).count();
  if (backend.wait_timeout > 0) {
    keepalive = std::min(keepalive, static_cast<double>(backend.wait_timeout) / 2);
  }
  const std::uint32_t connections =
      backend.opening + backend.idle + backend.checking + backend.moving + backend.active;
  table.rows.push_back({backend.address, Safe(backend.server_version), Bool(backend.reachable),
                        Seconds(backend.down_seconds), Int(backend.connects),
                        Int(backend.connects_last_minute), Int(backend.connect_failures),
                        Safe(backend.last_error), Int(backend.wait_timeout), Seconds(keepalive),
                        Int(connections), Int(backend.max_connections), Int(backend.opening),
                        Int(backend.idle), Int(backend.checking), Int(backend.moving),
                        Int(backend.active), Bool(backend.tls)});
  return table;
}

ResultTable StatsTable(const ProxySnapshot& snapshot, const std::optional<RateBase>& base,
                       SteadyTime now) {
  ResultTable table;
  table.columns = {{"user", kText},
                   {"pool", kText},
                   {"logins", kInt},
                   {"server_connects", kInt},
                   {"commands", kInt},
                   {"queries", kInt},
                   {"transactions", kInt},
                   {"errors", kInt},
                   {"bytes_received", kInt},
                   {"bytes_sent", kInt},
                   {"command_time_us", kInt},
                   {"command_avg_us", kInt},
                   {"command_max_us", kInt},
                   {"waits", kInt},
                   {"wait_time_us", kInt},
                   {"wait_avg_us", kInt},
                   {"wait_max_us", kInt},
                   {"logins_per_s", kDec},
                   {"queries_per_s", kDec},
                   {"transactions_per_s", kDec},
                   {"bytes_received_per_s", kDec},
                   {"bytes_sent_per_s", kDec},
                   {"releases", kInt},
                   {"reattaches", kInt},
                   {"state_replays", kInt},
                   {"prepares_asked", kInt},
                   {"prepares_sent", kInt},
                   {"statement_cache_hits", kInt},
                   {"statement_evictions", kInt}};
  const double seconds =
      base ? duration<double>(now - base->taken_at).count() : snapshot.process.uptime_seconds;
  for (const proxy::PoolStatsSnapshot& pool : snapshot.pools) {
    const proxy::PoolStatsSnapshot* then = nullptr;
    if (base) {
      for (const proxy::PoolStatsSnapshot& old : base->snapshot.pools) {
        if (old.key == pool.key) then = &old;
      }
    }
    table.rows.push_back(
        StatsRow(Safe(pool.key.user), Safe(pool.key.ToString()), pool, then, seconds));
  }
  const proxy::PoolStatsSnapshot total = Sum(snapshot.pools);
  const proxy::PoolStatsSnapshot total_then =
      base ? Sum(base->snapshot.pools) : proxy::PoolStatsSnapshot{};
  table.rows.push_back(StatsRow("*", "(all pools)", total, &total_then, seconds));
  return table;
}

ResultTable TotalsTable(const ProxySnapshot& snapshot) {
  const ProcessSnapshot& process = snapshot.process;
  const BackendSnapshot& backend = snapshot.backend;
  const proxy::PoolStatsSnapshot total = Sum(snapshot.pools);
  const std::uint64_t saved = total.logins > backend.connects ? total.logins - backend.connects : 0;
  ResultTable table;
  table.columns = {{"name", kText}, {"value", kText}};
  auto add = [&table](std::string name, std::string value) {
    table.rows.push_back({std::move(name), std::move(value)});
  };
  add("version", process.version);
  add("pid", Int(process.pid));
  add("uptime_seconds", Int(static_cast<std::uint64_t>(process.uptime_seconds)));
  add("clients_connected", SignedInt(process.clients_connected));
  add("max_client_connections", Int(process.max_client_connections));
  add("client_connections_total", Int(process.client_connections));
  add("clients_refused_total", Int(process.clients_refused));
  add("login_failures_total", Int(process.login_failures));
  add("logins_total", Int(total.logins));
  add("logins_last_minute", Int(process.logins_last_minute));
  add("server_connects_total", Int(backend.connects));
  add("server_connects_last_minute", Int(backend.connects_last_minute));
  add("server_connects_saved_total", Int(saved));
  add("commands_total", Int(total.commands));
  add("queries_total", Int(total.queries));
  add("transactions_total", Int(total.transactions));
  add("errors_total", Int(total.errors));
  add("bytes_received_total", Int(total.bytes_from_clients));
  add("bytes_sent_total", Int(total.bytes_to_clients));
  add("wait_count", Int(total.checkout_wait.count));
  add("wait_total_us", Int(total.checkout_wait.sum_us));
  add("wait_max_us", Int(total.checkout_wait.max_us));
  add("pools", Int(snapshot.pools.size()));
  add("clients_waiting", SignedInt(total.clients_waiting));
  add("clients_pinned", SignedInt(PinnedClients(total)));
  add("backend_address", backend.address);
  add("backend_reachable", Bool(backend.reachable));
  add("backend_connections",
      Int(backend.opening + backend.idle + backend.checking + backend.moving + backend.active));
  add("backend_max_connections", Int(backend.max_connections));
  return table;
}

ResultTable QueriesTable(std::vector<proxy::DigestRow> rows, std::optional<std::uint64_t> limit) {
  if (limit && rows.size() > *limit) rows.resize(*limit);
  ResultTable table;
  table.columns = {{"digest_text", kText}, {"count", kInt},     {"errors", kInt}, {"rows", kInt},
                   {"total_us", kInt},     {"avg_us", kInt},    {"min_us", kInt}, {"max_us", kInt},
                   {"first_seen", kText},  {"last_seen", kText}};
  auto timestamp = [](std::chrono::system_clock::time_point when) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &utc);
    return std::string(text);
  };
  for (const proxy::DigestRow& row : rows) {
    table.rows.push_back({Safe(row.shape), Int(row.count), Int(row.errors), Int(row.rows),
                          Int(row.total_us), Int(Average(row.total_us, row.count)), Int(row.min_us),
                          Int(row.max_us), timestamp(row.first_seen), timestamp(row.last_seen)});
  }
  return table;
}

ResultTable ConfigTable(const config::ProxyConfig& config) {
  ResultTable table;
  table.columns = {{"key", kText}, {"value", kText}};
  auto add = [&table](std::string key, std::string value) {
    table.rows.push_back({std::move(key), std::move(value)});
  };
  auto ms = [](config::Milliseconds value) { return std::to_string(value.count()) + "ms"; };
  auto addresses = [](const std::vector<config::SocketAddress>& list) {
    std::string text;
    for (const auto& address : list) text += (text.empty() ? "" : ",") + address.ToString();
    return text;
  };
  char mode[16];
  add("proxy.workers", std::to_string(config.proxy.workers));
  add("proxy.max_client_connections", Int(config.proxy.max_client_connections));
  add("proxy.max_client_prepared_statements", Int(config.proxy.max_client_prepared_statements));
  add("proxy.handshake_timeout", ms(config.proxy.handshake_timeout));
  add("proxy.net_read_timeout", ms(config.proxy.net_read_timeout));
  add("proxy.log_level", config.proxy.log_level);
  add("proxy.server_version", config.proxy.server_version);
  add("proxy.max_allowed_packet", Int(config.proxy.max_allowed_packet));
  add("proxy.compression", Bool(config.proxy.compression));
  add("listen.tcp", addresses(config.listen.tcp));
  add("listen.unix_socket", config.listen.unix_socket);
  std::snprintf(mode, sizeof mode, "0%o", config.listen.unix_socket_mode);
  add("listen.unix_socket_mode", mode);
  add("listen.backlog", std::to_string(config.listen.backlog));
  add("listen.require_tls", Bool(config.listen.require_tls));
  add("backend.address", config.backend.address.ToString());
  add("backend.max_connections", Int(config.backend.max_connections));
  add("backend.connect_timeout", ms(config.backend.connect_timeout));
  add("backend.retry_timeout", ms(config.backend.retry_timeout));
  add("backend.compression", Bool(config.backend.compression));
  add("pool.mode", ModeName(config.pool.mode));
  add("pool.max_connections", Int(config.pool.max_connections));
  add("pool.max_user_connections", Int(config.pool.max_user_connections));
  add("pool.min_idle", Int(config.pool.min_idle));
  add("pool.max_prepared_statements", Int(config.pool.max_prepared_statements));
  add("pool.queue_timeout", ms(config.pool.queue_timeout));
  add("pool.keepalive_interval", ms(config.pool.keepalive_interval));
  add("pool.check_delay", ms(config.pool.check_delay));
  add("pool.max_idle_time", ms(config.pool.max_idle_time));
  add("pool.max_lifetime", ms(config.pool.max_lifetime));
  add("auth.user", Safe(config.auth.user));
  add("auth.password", config.auth.user.empty() ? "" : "<hidden>");
  add("auth.cache_ttl", ms(config.auth.cache_ttl));
  add("client_tls.enabled", Bool(config.client_tls.enabled()));
  add("backend_tls.enabled", Bool(config.backend_tls.enabled));
  add("admin.unix_socket", config.admin.unix_socket);
  std::snprintf(mode, sizeof mode, "0%o", config.admin.unix_socket_mode);
  add("admin.unix_socket_mode", mode);
  add("admin.tcp", addresses(config.admin.tcp));
  add("admin.unix_socket_auth", Bool(config.admin.unix_socket_auth));
  add("admin.max_query_digests", Int(config.admin.max_query_digests));
  std::string admins;
  for (const auto& user : config.admin.users) admins += (admins.empty() ? "" : ",") + user.name;
  add("admin.users", Safe(admins));
  add("metrics.listen", config.metrics.listen ? config.metrics.listen->ToString() : "");
  for (const config::UserSettings& user : config.users) {
    const std::string prefix = "users." + Safe(user.name) + ".";
    add(prefix + "password", "<hidden>");
    add(prefix + "require_tls", Bool(user.require_tls));
    add(prefix + "pool_mode", user.pool_mode ? ModeName(*user.pool_mode) : "");
  }
  return table;
}

ResultTable HelpTable() {
  ResultTable table;
  table.columns = {{"command", kText}, {"shows", kText}};
  table.rows = {
      {"SHOW POOLS",
       "per pool: clients active/waiting/idle/pinned, backend connections by state, "
       "waits, pin reasons"},
      {"SHOW CLIENTS [LIMIT n]", "one row per client connection"},
      {"SHOW SERVERS [LIMIT n]", "one row per backend connection"},
      {"SHOW BACKENDS", "the backend server: health, connects, wait_timeout, connections"},
      {"SHOW STATS", "per pool totals, averages and rates; a row for all pools"},
      {"SHOW TOTALS", "name/value figures of the whole process"},
      {"SHOW QUERIES [LIMIT n]",
       "statement digests: normalized text, count, latency, rows, errors"},
      {"RESET QUERIES", "empties the statement digests"},
      {"SHOW CONFIG", "the running configuration (secrets hidden)"},
      {"SHOW VERSION", "longlink's version"},
      {"SHOW HELP", "this list"},
  };
  return table;
}

}  // namespace longlink::admin
