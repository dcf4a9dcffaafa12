#include <nlohmann/json.hpp>

#include "diag/render.h"
#include "diag/services.h"

namespace longlink::diag {
namespace {

using Json = nlohmann::ordered_json;

Json OptionalString(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }

Json ServiceJson(std::uint16_t port) {
  auto name = diag::ServiceName(port);
  return name ? Json(std::string(*name)) : Json(nullptr);
}

Json AllStates(const StateCounts& counts) {
  Json j = Json::object();
  for (TcpState s : kAllTcpStates) j[std::string(TcpStateName(s))] = counts[s];
  return j;
}

Json NonZeroStates(const StateCounts& counts) {
  Json j = Json::object();
  for (TcpState s : kAllTcpStates) {
    if (counts[s] > 0) j[std::string(TcpStateName(s))] = counts[s];
  }
  return j;
}

Json Process(const ProcessInfo& p) {
  return Json{{"pid", p.pid}, {"command", p.command}, {"cmdline", p.cmdline}, {"uid", p.uid}};
}

Json ProxyJson(const ProxyStatus& p) {
  Json j;
  j["pid"] = p.pid > 0 ? Json(p.pid) : Json(nullptr);
  j["config_file"] = p.config_file.empty() ? Json(nullptr) : Json(p.config_file);
  j["admin_socket"] = p.admin_socket.empty() ? Json(nullptr) : Json(p.admin_socket);
  j["reach"] = std::string(ProxyReachName(p.reach));
  j["error"] = p.read() ? Json(nullptr) : Json(p.error);
  Json listen = Json::object();
  listen["tcp"] = p.config.tcp;
  listen["unix_socket"] = p.config.unix_socket.empty() ? Json(nullptr) : Json(p.config.unix_socket);
  j["listen"] = std::move(listen);
  if (!p.read()) {
    j["figures"] = nullptr;
    return j;
  }
  const auto& t = p.totals;
  j["figures"] = Json{{"version", t.version},
                      {"uptime_seconds", t.uptime_seconds},
                      {"clients_connected", t.clients_connected},
                      {"clients_waiting", t.clients_waiting},
                      {"clients_pinned", t.clients_pinned},
                      {"logins_total", t.logins_total},
                      {"logins_last_minute", t.logins_last_minute},
                      {"server_connects_total", t.server_connects_total},
                      {"server_connects_last_minute", t.server_connects_last_minute},
                      {"server_connects_saved_total", t.server_connects_saved_total},
                      {"time_wait_avoided", p.TimeWaitAvoided()},
                      {"backend_address", t.backend_address},
                      {"backend_reachable", t.backend_reachable},
                      {"backend_connections", t.backend_connections},
                      {"backend_max_connections", t.backend_max_connections},
                      {"pool_mode", p.config.pool_mode},
                      {"pool_max_connections", p.config.pool_max_connections}};
  Json pools = Json::array();
  for (const auto& pool : p.pools) {
    if (!pool.NearLimit()) continue;
    pools.push_back(Json{{"user", pool.user},
                         {"pool", pool.pool},
                         {"mode", pool.mode},
                         {"server_connections", pool.ServerConnections()},
                         {"max_connections", pool.max_connections},
                         {"clients_waiting", pool.cl_waiting},
                         {"maxwait_us", pool.maxwait_us},
                         {"clients_pinned", pool.cl_pinned},
                         {"pin_reasons", pool.pin_reasons}});
  }
  j["pools_near_limit"] = std::move(pools);
  return j;
}

}  // namespace

std::string RenderJson(const Report& r, bool pretty) {
  Json j;
  j["schema"] = "longlink.diagnose/1";
  j["generated_at"] = r.generated_at;
  j["host"] = r.host;
  j["netns"] = OptionalString(r.netns);
  j["source"] = r.source;
  j["source_note"] = OptionalString(r.source_note);
  j["partial"] = r.partial();
  j["partial_reasons"] = r.partial_reasons;
  j["filter"] = r.filter.empty() ? Json(nullptr) : Json(r.filter);
  j["window_seconds"] = r.window_seconds;
  j["total"] = r.states.total;
  j["states"] = AllStates(r.states);
  j["fin_wait2_orphans"] = r.states.fin_wait2_orphans;

  Json destinations = Json::array();
  for (const auto& g : r.destinations) {
    Json d;
    d["direction"] = std::string(DirectionName(g.direction));
    d["address"] = g.service.address.ToString();
    d["port"] = g.service.port;
    d["service"] = ServiceJson(g.service.port);
    d["total"] = g.counts.total;
    d["states"] = NonZeroStates(g.counts);
    d["fin_wait2_orphans"] = g.counts.fin_wait2_orphans;
    std::string closed = g.ClosedFirstBy();
    d["closed_first_by"] = closed.empty() ? Json(nullptr) : Json(closed);
    d["close_rate_recent"] = g.close_rate_recent;
    d["close_rate_60s"] = g.close_rate_60s;
    d["peers"] = g.peers;
    Json processes = Json::array();
    for (const auto& p : g.processes) {
      Json e = Process(p.process);
      e["sockets"] = p.sockets;
      processes.push_back(std::move(e));
    }
    d["processes"] = std::move(processes);
    destinations.push_back(std::move(d));
  }
  j["destinations"] = std::move(destinations);

  Json pressure = Json::array();
  for (const auto& p : r.port_pressure) {
    pressure.push_back(Json{{"local_address", p.local_address.ToString()},
                            {"remote_address", p.remote.address.ToString()},
                            {"remote_port", p.remote.port},
                            {"ports_held", p.ports_held},
                            {"usable_ports", p.usable_ports},
                            {"ratio", p.ratio},
                            {"level", std::string(LevelName(p.level))}});
  }
  j["port_pressure"] = std::move(pressure);

  Json close_wait = Json::array();
  for (const auto& c : r.close_wait) {
    Json e = Process(c.process);
    e["count"] = c.count;
    Json peers = Json::array();
    for (const auto& p : c.peers) {
      peers.push_back(Json{{"direction", std::string(DirectionName(p.direction))},
                           {"address", p.service.address.ToString()},
                           {"port", p.service.port},
                           {"service", ServiceJson(p.service.port)},
                           {"count", p.count}});
    }
    e["peers"] = std::move(peers);
    close_wait.push_back(std::move(e));
  }
  j["close_wait"] = std::move(close_wait);
  j["close_wait_unattributed"] = r.close_wait_unattributed;
  j["listening_ports"] = r.listening_ports;
  j["port_range"] = Json{{"low", r.port_range.low},
                         {"high", r.port_range.high},
                         {"reserved", r.port_range.reserved},
                         {"usable", r.port_range.usable()}};

  Json counters = Json::object();
  for (const char* name : {"TcpExtTW", "TcpExtTWRecycled", "TcpExtTWKilled",
                           "TcpExtTCPTimeWaitOverflow", "TcpExtListenOverflows", "TcpActiveOpens",
                           "TcpPassiveOpens", "TcpCurrEstab", "sockstat_tw"}) {
    auto v = r.counters.Get(name);
    counters[name] = v ? Json(*v) : Json(nullptr);
  }
  j["counters"] = std::move(counters);

  if (r.rates) {
    j["rates"] = Json{{"interval_seconds", r.rates->interval_seconds},
                      {"tw_entered", r.rates->tw_entered},
                      {"tw_recycled", r.rates->tw_recycled},
                      {"tw_overflow", r.rates->tw_overflow},
                      {"active_opens", r.rates->active_opens},
                      {"passive_opens", r.rates->passive_opens},
                      {"tw_entered_by_timers", r.rates->tw_entered_by_timers}};
  } else {
    j["rates"] = nullptr;
  }

  Json sysctls = Json::array();
  for (const auto& s : r.sysctls) {
    sysctls.push_back(Json{{"name", s.name},
                           {"value", OptionalString(s.value)},
                           {"meaning", s.meaning},
                           {"advice", std::string(AdviceName(s.advice))},
                           {"note", s.note}});
  }
  j["sysctls"] = std::move(sysctls);

  Json findings = Json::array();
  for (const auto& f : r.findings) {
    findings.push_back(Json{{"severity", std::string(SeverityName(f.severity))},
                            {"code", f.code},
                            {"subject", f.subject},
                            {"title", f.title},
                            {"advice", f.advice}});
  }
  j["findings"] = std::move(findings);
  Json proxies = Json::array();
  for (const auto& p : r.proxies) proxies.push_back(ProxyJson(p));
  j["proxies"] = std::move(proxies);
  j["verdict"] = r.verdict;
  j["proxy_config"] = OptionalString(r.proxy_config);
  return pretty ? j.dump(2) + "\n" : j.dump() + "\n";
}

}  // namespace longlink::diag
