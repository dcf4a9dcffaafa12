#include "diag/proxy_analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "diag/analysis.h"

namespace longlink::diag {
namespace {

// "HOST:PORT" or "[V6]:PORT" as the proxy prints addresses; host nullopt for a name.
struct HostPort {
  std::optional<IpAddress> address;
  std::uint16_t port = 0;
};

std::optional<HostPort> ParseHostPort(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon), port_text = text.substr(colon + 1);
  HostPort out;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), out.port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || out.port == 0)
    return std::nullopt;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (auto ip = IpAddress::Parse(host)) out.address = *ip;
  return out;
}

// A configured address matches an endpoint seen in a socket: same port, and the same address
// unless either side is a wildcard or the configuration names a host (which is not resolved).
bool Matches(std::string_view configured, const Endpoint& seen) {
  auto hp = ParseHostPort(configured);
  if (!hp || hp->port != seen.port) return false;
  if (!hp->address || hp->address->IsUnspecified() || seen.address.IsUnspecified()) return true;
  return *hp->address == seen.address;
}

std::string Plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", WithThousands(n), n == 1 ? one : many);
}

std::string Milliseconds(std::uint64_t us) {
  return us >= 10'000 ? fmt::format("{} ms", WithThousands(us / 1000))
                      : fmt::format("{:.1f} ms", static_cast<double>(us) / 1000);
}

bool IsChurn(const Finding& f) {
  return f.code == "short_lived_connections" || f.code == "server_closes_first";
}

const DestinationGroup* GroupOf(const Report& report, const Finding& f) {
  for (const auto& g : report.destinations) {
    const bool outbound = g.direction == Direction::kOutbound;
    if (g.service.ToString() == f.subject && outbound == (f.code == "short_lived_connections"))
      return &g;
  }
  return nullptr;
}

bool BackendMatches(const ProxyStatus& p, const Endpoint& service) {
  const std::string& backend =
      !p.config.backend_address.empty() ? p.config.backend_address : p.totals.backend_address;
  return !backend.empty() && Matches(backend, service);
}

std::string UnixSocketAdvice(const ProxyStatus& p) {
  if (!p.config.unix_socket.empty())
    return fmt::format("its Unix socket ({})", p.config.unix_socket);
  return "a Unix socket (give it one: [listen] unix_socket = \"/run/longlink/mysql.sock\")";
}

// Advice for churn to a proxy's own backend.
std::string BackendChurnAdvice(const ProxyStatus& p, const DestinationGroup& g) {
  std::vector<const ProcessShare*> others;
  for (const auto& share : g.processes) {
    if (share.process.pid != p.pid) others.push_back(&share);
  }
  const std::uint64_t tw = g.counts[TcpState::kTimeWait];
  const bool proxy_churns = p.read() && p.totals.server_connects_last_minute * 2 >= tw;
  if (proxy_churns && others.empty()) {
    return fmt::format(
        "{} itself opened {} to {} in the last minute, for {}: its server connections do not "
        "last. Check that pool.max_connections ({}) covers the busy hours, that the server's "
        "wait_timeout is not shorter than the pool keeps connections idle, and whether clients "
        "are pinned.",
        p.Name(),
        Plural(p.totals.server_connects_last_minute, "server connection", "server connections"),
        g.service.ToString(), Plural(p.totals.logins_last_minute, "client login", "client logins"),
        p.config.pool_max_connections);
  }
  std::string advice = fmt::format(
      "{} already pools {}, so these connections bypass it{}: point those clients at the "
      "proxy, over {}",
      p.Name(), g.service.ToString(),
      p.read() ? fmt::format(" (it opened {} in the last minute)",
                             Plural(p.totals.server_connects_last_minute, "server connection",
                                    "server connections"))
               : "",
      UnixSocketAdvice(p));
  advice +=
      p.config.tcp.empty() ? "." : fmt::format(" or its TCP listener {}.", p.config.tcp.front());
  if (!others.empty()) {
    const auto& q = others.front()->process;
    advice += fmt::format(" Live connections to it are held by pid {} ({}), a likely source.",
                          q.pid, q.command);
  }
  return advice;
}

std::string ListenerChurnAdvice(const ProxyStatus& p, const DestinationGroup& g) {
  return fmt::format(
      "Clients reach {} over TCP ({}) and connect per request: connect them over {} and this "
      "TIME_WAIT disappears. The proxy already spares the database these connections; only "
      "the hop to the proxy still churns.",
      p.Name(), g.service.ToString(), UnixSocketAdvice(p));
}

Finding ProblemFinding(const ProxyStatus& p) {
  Finding f;
  f.severity = Severity::kInfo;
  f.subject = p.Name();
  const std::string where = p.config_file.empty() ? "its config" : p.config_file;
  switch (p.reach) {
    case ProxyReach::kNoAdminSocket:
      f.code = "proxy_admin_off";
      f.title = fmt::format("{} runs without an admin console ({}): what it saves cannot be read",
                            p.Name(), p.error);
      f.advice = p.config_file.empty()
                     ? "Run it with --config FILE, and in FILE: [admin] unix_socket = "
                       "\"/run/longlink/admin.sock\". `longlink diagnose` then logs in over it "
                       "as root or as the proxy's user, without a password."
                     : fmt::format(
                           "Add [admin] unix_socket = \"/run/longlink/admin.sock\" to {} and "
                           "restart the proxy. `longlink diagnose` then logs in over it as root "
                           "or as the proxy's user, without a password.",
                           where);
      break;
    case ProxyReach::kConfigUnreadable:
      f.code = "proxy_config_unreadable";
      f.title = fmt::format("{} found, but its config could not be read: {}", p.Name(), p.error);
      f.advice =
          "Run `longlink diagnose` as root or as the proxy's user, or name its admin socket "
          "with --proxy-admin PATH.";
      break;
    case ProxyReach::kUnreachable:
      f.code = "proxy_admin_unreachable";
      f.title = fmt::format("The admin console of {} did not answer: {}", p.Name(), p.error);
      f.advice = fmt::format(
          "Check that the proxy runs with [admin] unix_socket = \"{}\" (a proxy started before "
          "the setting was added has no console until restarted), and run `longlink diagnose` "
          "as root or as the proxy's user: the socket's mode is 0600 by default.",
          p.admin_socket);
      break;
    case ProxyReach::kRefused:
      f.code = "proxy_admin_refused";
      f.title = fmt::format("The admin console of {} refused the login: {}", p.Name(), p.error);
      f.advice =
          "`longlink diagnose` logs in as the OS user it runs as, without a password: run it "
          "as root or as the proxy's user, and keep [admin] unix_socket_auth = true.";
      break;
    case ProxyReach::kFailed:
      f.code = "proxy_admin_failed";
      f.title = fmt::format("The figures of {} could not be read: {}", p.Name(), p.error);
      f.advice = "Check that this longlink and the proxy are the same version.";
      break;
    case ProxyReach::kRead:
      break;
  }
  return f;
}

Finding PoolingFinding(const ProxyStatus& p) {
  const auto& t = p.totals;
  const std::string backend =
      !p.config.backend_address.empty() ? p.config.backend_address : t.backend_address;
  Finding f;
  f.severity = Severity::kInfo;
  f.code = "proxy_pooling";
  f.subject = p.Name();
  f.title = fmt::format(
      "{} pools {}: {} took {} in the last minute ({} and {} since start)", p.Name(), backend,
      Plural(t.logins_last_minute, "client login", "client logins"),
      Plural(t.server_connects_last_minute, "new server connection", "new server connections"),
      Plural(t.logins_total, "login", "logins"),
      Plural(t.server_connects_total, "server connection", "server connections"));
  f.advice = fmt::format(
      "It saved {} since start; about {} to the database that would be in TIME_WAIT now "
      "without it.",
      Plural(t.server_connects_saved_total, "server login", "server logins"),
      Plural(p.TimeWaitAvoided(), "connection", "connections"));
  return f;
}

void AddPoolFindings(const ProxyStatus& p, std::vector<Finding>* out) {
  for (const auto& pool : p.pools) {
    if (!pool.NearLimit()) continue;
    const bool waiting = pool.cl_waiting > 0 || pool.maxwait_us > 0;
    Finding f;
    f.severity = waiting ? Severity::kWarning : Severity::kInfo;
    f.code = "proxy_pool_near_limit";
    f.subject = fmt::format("{} pool {}", p.Name(), pool.pool);
    f.title = fmt::format("Pool {} (user {}) of {}: {} of {} server connections in use or open{}",
                          pool.pool, pool.user, p.Name(), WithThousands(pool.ServerConnections()),
                          WithThousands(pool.max_connections),
                          waiting ? fmt::format(", {} waiting, the longest for {}",
                                                Plural(pool.cl_waiting, "client", "clients"),
                                                Milliseconds(pool.maxwait_us))
                                  : "");
    f.advice = fmt::format(
        "Raise pool.max_connections (now {}) if the database can take more connections, or "
        "look for slow queries and long transactions that hold them (SHOW POOLS on the admin "
        "console, the server's slow query log).",
        pool.max_connections);
    out->push_back(std::move(f));
  }
  if (p.totals.clients_pinned > 0) {
    std::string reasons;
    for (const auto& pool : p.pools) {
      if (pool.pin_reasons.empty()) continue;
      if (!reasons.empty()) reasons += ", ";
      reasons += pool.pin_reasons;
    }
    Finding f;
    f.severity = Severity::kInfo;
    f.code = "proxy_pinned_clients";
    f.subject = p.Name();
    f.title = fmt::format("{} of {} pinned to a server connection{}",
                          Plural(p.totals.clients_pinned, "client is", "clients are"), p.Name(),
                          reasons.empty() ? "" : " (" + reasons + ")");
    f.advice =
        "A pinned client keeps its server connection until it leaves, as without a pool: avoid "
        "the session state that pins it where the application allows (docs/PROXY.md).";
    out->push_back(std::move(f));
  }
  if (!p.totals.backend_reachable) {
    Finding f;
    f.severity = Severity::kWarning;
    f.code = "proxy_backend_unreachable";
    f.subject = p.Name();
    f.title = fmt::format("{} cannot reach its backend {}", p.Name(), p.totals.backend_address);
    f.advice = "Check the server and the network path; the proxy's log says what failed.";
    out->push_back(std::move(f));
  }
}

}  // namespace

bool IsProxyListener(const ProxyStatus& proxy, const Endpoint& service) {
  return std::any_of(proxy.config.tcp.begin(), proxy.config.tcp.end(),
                     [&](const std::string& l) { return Matches(l, service); });
}

bool PooledByProxy(const Report& report, const Endpoint& service) {
  return std::any_of(report.proxies.begin(), report.proxies.end(),
                     [&](const ProxyStatus& p) { return BackendMatches(p, service); });
}

void AddProxyFindings(const Report& report, std::vector<Finding>* findings) {
  for (auto& f : *findings) {
    if (!IsChurn(f)) continue;
    const DestinationGroup* g = GroupOf(report, f);
    if (!g) continue;
    for (const auto& p : report.proxies) {
      if (IsProxyListener(p, g->service)) {
        f.advice = ListenerChurnAdvice(p, *g);
        break;
      }
      if (g->direction == Direction::kOutbound && BackendMatches(p, g->service)) {
        f.advice = BackendChurnAdvice(p, *g);
        break;
      }
    }
  }
  for (const auto& p : report.proxies) {
    if (!p.read()) {
      findings->push_back(ProblemFinding(p));
      continue;
    }
    findings->push_back(PoolingFinding(p));
    AddPoolFindings(p, findings);
  }
}

std::string ProxyVerdictSentence(const Report& report, const std::vector<Finding>& findings) {
  std::string out;
  for (const auto& p : report.proxies) {
    if (!p.read() || p.totals.logins_total == 0) continue;
    const bool backend_churns =
        std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
          if (f.code != "short_lived_connections") return false;
          const DestinationGroup* g = GroupOf(report, f);
          return g && BackendMatches(p, g->service);
        });
    if (backend_churns) continue;
    const std::string backend =
        !p.config.backend_address.empty() ? p.config.backend_address : p.totals.backend_address;
    out += fmt::format("{}No churn to {}: {} pools it ({} took {} in the last minute).",
                       out.empty() ? "" : " ", backend, p.Name(),
                       Plural(p.totals.logins_last_minute, "client login", "client logins"),
                       Plural(p.totals.server_connects_last_minute, "new server connection",
                              "new server connections"));
  }
  return out;
}

}  // namespace longlink::diag
