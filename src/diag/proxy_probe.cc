#include "diag/proxy_probe.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <functional>
#include <map>

#include "common/log_text.h"
#include "diag/proxy_discovery.h"

namespace longlink::diag {
namespace {

constexpr std::size_t kMaxPrinted = 512;

std::string Printable(std::string_view text) {
  return LogSafe(text.substr(0, std::min(text.size(), kMaxPrinted)));
}

Result<std::uint64_t> Number(std::string_view name, std::string_view text) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
    return Error{fmt::format("{} is not a number: {}", name, LogQuoted(text, 40))};
  return value;
}

// The rows of a two-column (name, value) result, by name.
Result<std::map<std::string, std::string, std::less<>>> NameValues(const TextResultSet& result,
                                                                   std::string_view name_column,
                                                                   std::string_view what) {
  auto name = result.ColumnIndex(name_column);
  auto value = result.ColumnIndex("value");
  if (!name || !value) return Error{fmt::format("{}: no {} and value columns", what, name_column)};
  std::map<std::string, std::string, std::less<>> out;
  for (const auto& row : result.rows) out.emplace(row[*name], row[*value]);
  return out;
}

}  // namespace

Result<ProxyTotals> ParseProxyTotals(const TextResultSet& result) {
  auto rows = NameValues(result, "name", "SHOW TOTALS");
  if (!rows) return rows.error();
  ProxyTotals t;
  auto text = [&](std::string_view name) -> std::string {
    auto it = rows->find(name);
    return it == rows->end() ? std::string() : Printable(it->second);
  };
  std::optional<Error> bad;
  auto number = [&](std::string_view name, std::uint64_t* out) {
    auto it = rows->find(name);
    if (it == rows->end() || bad) return;
    auto n = Number(name, it->second);
    if (!n) {
      bad = n.error();
      return;
    }
    *out = *n;
  };
  t.version = text("version");
  number("uptime_seconds", &t.uptime_seconds);
  number("clients_connected", &t.clients_connected);
  number("max_client_connections", &t.max_client_connections);
  number("client_connections_total", &t.client_connections_total);
  number("clients_refused_total", &t.clients_refused_total);
  number("login_failures_total", &t.login_failures_total);
  number("logins_total", &t.logins_total);
  number("logins_last_minute", &t.logins_last_minute);
  number("server_connects_total", &t.server_connects_total);
  number("server_connects_last_minute", &t.server_connects_last_minute);
  number("server_connects_saved_total", &t.server_connects_saved_total);
  number("queries_total", &t.queries_total);
  number("wait_count", &t.wait_count);
  number("wait_max_us", &t.wait_max_us);
  number("pools", &t.pools);
  number("clients_waiting", &t.clients_waiting);
  number("clients_pinned", &t.clients_pinned);
  number("backend_connections", &t.backend_connections);
  number("backend_max_connections", &t.backend_max_connections);
  std::uint64_t reachable = 0;
  number("backend_reachable", &reachable);
  if (bad) return Error{"SHOW TOTALS: " + bad->message};
  t.backend_reachable = reachable != 0;
  t.backend_address = text("backend_address");
  return t;
}

Result<std::vector<ProxyPool>> ParseProxyPools(const TextResultSet& result) {
  auto user = result.ColumnIndex("user");
  auto pool = result.ColumnIndex("pool");
  if (!user || !pool) return Error{"SHOW POOLS: no user and pool columns"};
  auto mode = result.ColumnIndex("mode");
  auto pins = result.ColumnIndex("pin_reasons");
  struct NumberColumn {
    const char* name;
    std::uint64_t ProxyPool::*field;
  };
  static constexpr NumberColumn kNumbers[] = {
      {"cl_active", &ProxyPool::cl_active},
      {"cl_waiting", &ProxyPool::cl_waiting},
      {"cl_idle", &ProxyPool::cl_idle},
      {"cl_pinned", &ProxyPool::cl_pinned},
      {"sv_active", &ProxyPool::sv_active},
      {"sv_idle", &ProxyPool::sv_idle},
      {"sv_opening", &ProxyPool::sv_opening},
      {"sv_checking", &ProxyPool::sv_checking},
      {"max_connections", &ProxyPool::max_connections},
      {"maxwait_us", &ProxyPool::maxwait_us},
      {"wait_max_us", &ProxyPool::wait_max_us},
  };
  std::vector<ProxyPool> pools;
  for (const auto& row : result.rows) {
    if (pools.size() >= kMaxProxyPools) break;
    ProxyPool p;
    p.user = Printable(row[*user]);
    p.pool = Printable(row[*pool]);
    if (mode) p.mode = Printable(row[*mode]);
    if (pins) p.pin_reasons = Printable(row[*pins]);
    for (const auto& column : kNumbers) {
      auto index = result.ColumnIndex(column.name);
      if (!index) continue;
      auto n = Number(column.name, row[*index]);
      if (!n) return Error{"SHOW POOLS: " + n.error().message};
      p.*column.field = *n;
    }
    pools.push_back(std::move(p));
  }
  return pools;
}

Result<ProxyListeners> ParseProxyConfig(const TextResultSet& result, ProxyListeners known) {
  auto rows = NameValues(result, "key", "SHOW CONFIG");
  if (!rows) return rows.error();
  ProxyListeners out = std::move(known);
  if (auto it = rows->find("listen.tcp"); it != rows->end()) {
    out.tcp.clear();
    std::string_view list = it->second;
    while (!list.empty()) {
      std::size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty() && out.tcp.size() < 64) out.tcp.push_back(Printable(item));
      list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    }
  }
  if (auto it = rows->find("listen.unix_socket"); it != rows->end())
    out.unix_socket = Printable(it->second);
  if (auto it = rows->find("backend.address"); it != rows->end())
    out.backend_address = Printable(it->second);
  if (auto it = rows->find("pool.mode"); it != rows->end()) out.pool_mode = Printable(it->second);
  if (auto it = rows->find("pool.max_connections"); it != rows->end()) {
    auto n = Number("pool.max_connections", it->second);
    if (!n) return Error{"SHOW CONFIG: " + n.error().message};
    out.pool_max_connections = *n;
  }
  return out;
}

void ReadProxyFigures(ProxyStatus* status, const AdminClientOptions& options) {
  AdminClient client(options);
  if (auto s = client.Connect(status->admin_socket, EffectiveUserName()); !s) {
    status->reach = client.fault() == AdminFault::kRefused       ? ProxyReach::kRefused
                    : client.fault() == AdminFault::kUnreachable ? ProxyReach::kUnreachable
                                                                 : ProxyReach::kFailed;
    status->error = Printable(s.error().message);
    return;
  }
  auto fail = [&](const Error& error) {
    status->reach = ProxyReach::kFailed;
    status->error = Printable(error.message);
    client.Quit();
  };
  auto totals_result = client.Query("SHOW TOTALS");
  if (!totals_result) return fail(totals_result.error());
  auto totals = ParseProxyTotals(*totals_result);
  if (!totals) return fail(totals.error());
  auto pools_result = client.Query("SHOW POOLS");
  if (!pools_result) return fail(pools_result.error());
  auto pools = ParseProxyPools(*pools_result);
  if (!pools) return fail(pools.error());
  auto config_result = client.Query("SHOW CONFIG");
  if (!config_result) return fail(config_result.error());
  auto config = ParseProxyConfig(*config_result, status->config);
  if (!config) return fail(config.error());
  // The pid row is read apart: ProxyTotals keeps what the report shows.
  if (status->pid == 0) {
    if (auto index = totals_result->ColumnIndex("name")) {
      for (const auto& row : totals_result->rows) {
        if (row[*index] != "pid") continue;
        auto value = totals_result->ColumnIndex("value");
        auto n = Number("pid", row[*value]);
        if (n && *n <= INT_MAX) status->pid = static_cast<int>(*n);
      }
    }
  }
  client.Quit();
  status->totals = std::move(*totals);
  status->pools = std::move(*pools);
  status->config = std::move(*config);
  status->reach = ProxyReach::kRead;
  status->error.clear();
}

std::vector<ProxyStatus> ProbeProxies(const std::optional<std::string>& admin_socket,
                                      const std::string& proc_root) {
  std::vector<ProxyStatus> out;
  if (admin_socket) {
    ProxyStatus status;
    status.admin_socket = Printable(*admin_socket);
    ReadProxyFigures(&status);
    out.push_back(std::move(status));
    return out;
  }
  char own[256] = {};
  ssize_t n = readlink((proc_root + "/self/ns/net").c_str(), own, sizeof own - 1);
  const std::string own_netns = n > 0 ? std::string(own, static_cast<std::size_t>(n)) : "";
  for (const auto& found : FindProxyProcesses(proc_root, own_netns)) {
    ProxyStatus status = DescribeFoundProxy(found);
    if (!status.admin_socket.empty()) ReadProxyFigures(&status);
    out.push_back(std::move(status));
  }
  return out;
}

}  // namespace longlink::diag
