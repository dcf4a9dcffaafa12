#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "common/prometheus_text.h"
#include "diag/render.h"
#include "diag/services.h"

namespace longlink::diag {
namespace {

class Exposition {
 public:
  void Family(std::string_view name, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  }
  void Sample(std::string_view name, std::string_view labels, double value) {
    out_ += name;
    if (!labels.empty()) out_ += fmt::format("{{{}}}", labels);
    out_ += fmt::format(" {}\n", value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string DestinationLabels(const DestinationGroup& g) {
  auto service = ServiceName(g.service.port);
  return fmt::format(
      R"(direction="{}",address="{}",port="{}",service="{}")", DirectionName(g.direction),
      EscapePrometheusLabel(g.service.address.ToString()), g.service.port, service ? *service : "");
}

void Proxies(const Report& r, std::size_t top, Exposition* e) {
  if (r.proxies.empty()) return;
  auto labels = [](const ProxyStatus& p) {
    return fmt::format(R"(pid="{}",admin_socket="{}")", p.pid,
                       EscapePrometheusLabel(p.admin_socket));
  };
  e->Family("longlink_diag_proxy_up",
            "1 when the longlink proxy's admin console was read, 0 when it was found but not "
            "read (reach says why).");
  for (const auto& p : r.proxies) {
    e->Sample("longlink_diag_proxy_up",
              fmt::format(R"({},reach="{}")", labels(p), ProxyReachName(p.reach)),
              p.read() ? 1 : 0);
  }
  struct Figure {
    const char* name;
    const char* help;
    std::uint64_t (*get)(const ProxyStatus&);
  };
  static constexpr Figure kFigures[] = {
      {"longlink_diag_proxy_uptime_seconds", "Seconds since the proxy started.",
       [](const ProxyStatus& p) { return p.totals.uptime_seconds; }},
      {"longlink_diag_proxy_logins_total", "Client logins since start.",
       [](const ProxyStatus& p) { return p.totals.logins_total; }},
      {"longlink_diag_proxy_logins_last_minute", "Client logins in the last minute.",
       [](const ProxyStatus& p) { return p.totals.logins_last_minute; }},
      {"longlink_diag_proxy_server_connects_total", "Server connections opened since start.",
       [](const ProxyStatus& p) { return p.totals.server_connects_total; }},
      {"longlink_diag_proxy_server_connects_last_minute",
       "Server connections opened in the last minute.",
       [](const ProxyStatus& p) { return p.totals.server_connects_last_minute; }},
      {"longlink_diag_proxy_server_connects_saved_total",
       "Server logins saved since start: logins minus server connections opened.",
       [](const ProxyStatus& p) { return p.totals.server_connects_saved_total; }},
      {"longlink_diag_proxy_time_wait_avoided",
       "TIME_WAIT sockets to the database avoided now: logins minus server connections opened "
       "in the last minute.",
       [](const ProxyStatus& p) { return p.TimeWaitAvoided(); }},
      {"longlink_diag_proxy_clients_connected", "Clients connected.",
       [](const ProxyStatus& p) { return p.totals.clients_connected; }},
      {"longlink_diag_proxy_clients_waiting", "Clients waiting for a server connection.",
       [](const ProxyStatus& p) { return p.totals.clients_waiting; }},
      {"longlink_diag_proxy_clients_pinned", "Clients pinned to a server connection.",
       [](const ProxyStatus& p) { return p.totals.clients_pinned; }},
      {"longlink_diag_proxy_backend_reachable", "1 when the proxy reaches its backend.",
       [](const ProxyStatus& p) -> std::uint64_t { return p.totals.backend_reachable ? 1 : 0; }},
      {"longlink_diag_proxy_backend_connections", "Backend connections open or opening.",
       [](const ProxyStatus& p) { return p.totals.backend_connections; }},
  };
  for (const auto& figure : kFigures) {
    e->Family(figure.name, figure.help);
    for (const auto& p : r.proxies) {
      if (p.read()) e->Sample(figure.name, labels(p), static_cast<double>(figure.get(p)));
    }
  }
  auto pool_series = [&](const char* name, const char* help,
                         std::uint64_t (*get)(const ProxyPool&)) {
    e->Family(name, help);
    std::size_t shown = 0;
    for (const auto& p : r.proxies) {
      for (const auto& pool : p.pools) {
        if (!pool.NearLimit() || shown >= top) continue;
        ++shown;
        e->Sample(name,
                  fmt::format(R"({},user="{}",pool="{}")", labels(p),
                              EscapePrometheusLabel(pool.user), EscapePrometheusLabel(pool.pool)),
                  static_cast<double>(get(pool)));
      }
    }
  };
  pool_series("longlink_diag_proxy_pool_server_connections",
              "Server connections (active, idle, opening) of the pools near their limit (>= 90% "
              "of max_connections, or clients waiting), top N.",
              [](const ProxyPool& pool) { return pool.ServerConnections(); });
  pool_series("longlink_diag_proxy_pool_max_connections",
              "max_connections of the pools near their limit, top N.",
              [](const ProxyPool& pool) { return pool.max_connections; });
  pool_series("longlink_diag_proxy_pool_clients_waiting",
              "Clients waiting in the pools near their limit, top N.",
              [](const ProxyPool& pool) { return pool.cl_waiting; });
}

}  // namespace

std::string RenderPrometheus(const Report& r, std::size_t top) {
  Exposition e;
  e.Family("longlink_tcp_sockets", "TCP sockets per state.");
  for (TcpState s : kAllTcpStates) {
    e.Sample("longlink_tcp_sockets", fmt::format(R"(state="{}")", TcpStateName(s)),
             static_cast<double>(r.states[s]));
  }
  e.Family("longlink_tcp_fin_wait2_orphans",
           "FIN_WAIT2 sockets kept as time-wait mini-sockets (included in FIN_WAIT2).");
  e.Sample("longlink_tcp_fin_wait2_orphans", "", static_cast<double>(r.states.fin_wait2_orphans));

  const std::size_t groups = std::min(top, r.destinations.size());
  e.Family("longlink_tcp_destination_sockets", "TCP sockets per destination and state (top N).");
  for (std::size_t i = 0; i < groups; ++i) {
    const auto& g = r.destinations[i];
    for (TcpState s : kAllTcpStates) {
      if (g.counts[s] == 0) continue;
      e.Sample("longlink_tcp_destination_sockets",
               fmt::format(R"({},state="{}")", DestinationLabels(g), TcpStateName(s)),
               static_cast<double>(g.counts[s]));
    }
  }
  e.Family("longlink_tcp_destination_close_rate",
           "TIME_WAIT entries per second over the recent window, per destination (top N).");
  for (std::size_t i = 0; i < groups; ++i) {
    e.Sample("longlink_tcp_destination_close_rate", DestinationLabels(r.destinations[i]),
             r.destinations[i].close_rate_recent);
  }
  e.Family("longlink_ephemeral_port_use_ratio",
           "Ephemeral ports held / usable per local address and destination (top N).");
  for (std::size_t i = 0; i < std::min(top, r.port_pressure.size()); ++i) {
    const auto& p = r.port_pressure[i];
    e.Sample("longlink_ephemeral_port_use_ratio",
             fmt::format(R"(local_address="{}",remote_address="{}",remote_port="{}")",
                         EscapePrometheusLabel(p.local_address.ToString()),
                         EscapePrometheusLabel(p.remote.address.ToString()), p.remote.port),
             p.ratio);
  }
  e.Family("longlink_tcp_close_wait_by_process", "CLOSE_WAIT sockets per process (top N).");
  for (std::size_t i = 0; i < std::min(top, r.close_wait.size()); ++i) {
    const auto& c = r.close_wait[i];
    e.Sample("longlink_tcp_close_wait_by_process",
             fmt::format(R"(pid="{}",command="{}")", c.process.pid,
                         EscapePrometheusLabel(c.process.command)),
             static_cast<double>(c.count));
  }
  e.Family("longlink_sysctl", "Numeric kernel settings that decide what TIME_WAIT costs.");
  for (const auto& s : r.sysctls) {
    if (!s.value) continue;
    double value;
    auto [ptr, ec] = std::from_chars(s.value->data(), s.value->data() + s.value->size(), value);
    if (ec != std::errc() || ptr != s.value->data() + s.value->size()) continue;
    e.Sample("longlink_sysctl", fmt::format(R"(name="{}")", EscapePrometheusLabel(s.name)), value);
  }
  e.Family("longlink_tcp_counter", "Kernel TCP counters as read (cumulative since boot).");
  for (const char* name : {"TcpExtTW", "TcpExtTWRecycled", "TcpExtTWKilled",
                           "TcpExtTCPTimeWaitOverflow", "TcpExtListenOverflows", "TcpActiveOpens",
                           "TcpPassiveOpens", "TcpCurrEstab", "sockstat_tw"}) {
    if (auto v = r.counters.Get(name)) {
      e.Sample("longlink_tcp_counter", fmt::format(R"(name="{}")", name), static_cast<double>(*v));
    }
  }
  Proxies(r, top, &e);
  e.Family("longlink_diagnose_partial", "1 when some data could not be read.");
  e.Sample("longlink_diagnose_partial", "", r.partial() ? 1 : 0);
  e.Family("longlink_diagnose_findings", "Findings per severity.");
  for (Severity s : {Severity::kCritical, Severity::kWarning, Severity::kInfo}) {
    auto n = std::count_if(r.findings.begin(), r.findings.end(),
                           [&](const Finding& f) { return f.severity == s; });
    e.Sample("longlink_diagnose_findings", fmt::format(R"(severity="{}")", SeverityName(s)),
             static_cast<double>(n));
  }
  return e.Take();
}

}  // namespace longlink::diag
