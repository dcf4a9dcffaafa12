#include "diag/analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "diag/proxy_analysis.h"
#include "diag/services.h"

namespace longlink::diag {
namespace {

bool IsMysql(const Endpoint& e) { return e.port == 3306; }

// The first sentence of advice, for the verdict.
std::string FirstSentence(const std::string& text) {
  std::size_t end = text.find(". ");
  return end == std::string::npos ? text : text.substr(0, end + 1);
}

std::string Rate(double per_second) {
  if (per_second >= 10) return fmt::format("{:.0f}", per_second);
  return fmt::format("{:.1f}", per_second);
}

// The cure for churn, by service.
std::string PoolingAdvice(const DestinationGroup& g) {
  const std::string where = DescribeService(g.service);
  std::string advice = "Kernel settings would only hide this; pool the connections. ";
  if (IsMysql(g.service)) {
    advice += fmt::format(
        "Run `longlink proxy` in front of {} and point the application at its Unix socket "
        "(no TIME_WAIT at all); a configuration to start from is below.",
        g.service.ToString());
  } else if (g.service.port == 5432) {
    advice += "Put PgBouncer in front of it, or keep connections open in the application.";
  } else if (g.service.port == 80 || g.service.port == 443 || g.service.port == 8080 ||
             g.service.port == 8443) {
    advice += "Use HTTP keep-alive and a connection pool in the client.";
  } else {
    advice +=
        fmt::format("Keep connections to {} open and reuse them (a client-side pool).", where);
  }
  if (!g.processes.empty()) {
    const auto& p = g.processes.front().process;
    advice += fmt::format(" Live connections to it are held by pid {} ({}), a likely source.",
                          p.pid, p.command);
  }
  return advice;
}

double ChurnRate(const DestinationGroup& g) {
  return std::max(g.close_rate_recent, g.close_rate_60s);
}

void AddChurnFindings(const Report& report, std::vector<Finding>* out) {
  for (const auto& g : report.destinations) {
    const auto severity = ChurnSeverity(g, report.port_pressure);
    if (!severity) continue;
    const std::uint64_t tw = g.counts[TcpState::kTimeWait];
    const double rate = ChurnRate(g);
    Finding f;
    f.severity = *severity;
    f.subject = g.service.ToString();
    if (g.direction == Direction::kOutbound) {
      f.code = "short_lived_connections";
      f.title = fmt::format(
          "{} TIME_WAIT to {}, about {} new connections/s, closed by this host: short-lived "
          "connections",
          WithThousands(tw), DescribeService(g.service), Rate(rate));
      f.advice = PoolingAdvice(g);
    } else {
      f.code = "server_closes_first";
      f.title = fmt::format(
          "{} TIME_WAIT on this host's {}, about {} connections/s: this host, as server, closes "
          "connections first",
          WithThousands(tw), DescribeService(g.service), Rate(rate));
      f.advice = fmt::format(
          "The clients ({} address{}) connect per request; pool or keep connections open on the "
          "client side. Server-side TIME_WAIT takes no ephemeral ports and little memory (a small "
          "mini-socket each), so it only hurts in the hundreds of thousands; where the protocol "
          "allows, let the client close first.",
          g.peers, g.peers == 1 ? "" : "es");
    }
    out->push_back(std::move(f));
  }
}

void AddPortFindings(const Report& report, std::vector<Finding>* out) {
  for (const auto& p : report.port_pressure) {
    if (p.level == Level::kOk) continue;
    Finding f;
    f.severity = p.level == Level::kCritical ? Severity::kCritical : Severity::kWarning;
    f.code = "port_exhaustion";
    f.subject = p.remote.ToString();
    f.title = fmt::format("{} of {} usable ephemeral ports ({:.0f}%) held from {} to {}: {}",
                          WithThousands(p.ports_held), WithThousands(p.usable_ports), p.ratio * 100,
                          p.local_address.ToString(), DescribeService(p.remote),
                          p.ratio >= 1
                              ? "new connections fail with EADDRNOTAVAIL"
                              : "new connections will fail with EADDRNOTAVAIL when they run out");
    f.advice =
        "Pool or reuse connections: that is the cure. Otherwise the limit is per (source address, "
        "destination address, destination port): more destination or source addresses multiply "
        "it; a program that bind()s before connect() should set IP_BIND_ADDRESS_NO_PORT so the "
        "port is chosen per destination; widening net.ipv4.ip_local_port_range only postpones it.";
    out->push_back(std::move(f));
  }
}

void AddCloseWaitFindings(const Report& report, std::vector<Finding>* out) {
  for (const auto& c : report.close_wait) {
    Finding f;
    f.severity = c.count >= 1000 ? Severity::kCritical
                 : c.count >= 10 ? Severity::kWarning
                                 : Severity::kInfo;
    f.code = "close_wait_leak";
    f.subject = fmt::format("pid {}", c.process.pid);
    std::string where = "its peers";
    if (!c.peers.empty()) {
      const auto& top = c.peers.front();
      where = top.direction == Direction::kOutbound
                  ? "to " + DescribeService(top.service) + " (the server closed)"
                  : "on " + DescribeService(top.service) + " (its clients closed)";
      if (c.peers.size() > 1) where += fmt::format(" and {} more services", c.peers.size() - 1);
    }
    f.title = fmt::format("pid {} ({}) holds {} CLOSE_WAIT socket{} {}, and never called close()",
                          c.process.pid, c.process.command, WithThousands(c.count),
                          c.count == 1 ? "" : "s", where);
    f.advice = fmt::format(
        "Fix the program: close connections on every error path, and drop pooled connections the "
        "server has closed (e.g. after wait_timeout). No kernel setting removes CLOSE_WAIT; "
        "restarting the program frees the sockets. Command: {}",
        c.process.cmdline);
    out->push_back(std::move(f));
  }
  if (report.close_wait_unattributed > 0) {
    Finding f;
    f.severity = Severity::kWarning;
    f.code = "close_wait_leak";
    f.subject = "unknown process";
    f.title = fmt::format("{} CLOSE_WAIT socket{} whose process could not be found",
                          WithThousands(report.close_wait_unattributed),
                          report.close_wait_unattributed == 1 ? "" : "s");
    f.advice =
        "Run as root (or as the owning user) so that /proc/PID/fd can be read. CLOSE_WAIT means "
        "the local program never closed a connection its peer closed.";
    out->push_back(std::move(f));
  }
}

void AddOrphanFindings(const KernelSettings& settings, const Report& report,
                       std::vector<Finding>* out) {
  const auto fin_timeout = settings.GetInt("net.ipv4.tcp_fin_timeout").value_or(60);
  for (const auto& g : report.destinations) {
    const std::uint64_t orphans = g.counts.fin_wait2_orphans;
    if (orphans < 10) continue;
    Finding f;
    f.severity = orphans >= 1000 ? Severity::kWarning : Severity::kInfo;
    f.code = "fin_wait2_orphans";
    f.subject = g.service.ToString();
    f.title = fmt::format(
        "{} FIN_WAIT2 orphan{} to {}: this host closed and the peer has not closed its side",
        WithThousands(orphans), orphans == 1 ? "" : "s", DescribeService(g.service));
    f.advice = fmt::format(
        "The peer is slow to close or leaks CLOSE_WAIT: run `longlink diagnose` there. The "
        "orphans go away after net.ipv4.tcp_fin_timeout ({} s); lowering it frees them sooner "
        "but does not fix the peer. They are not TIME_WAIT, though sockstat's \"tw\" counts them "
        "as such.",
        fin_timeout);
    out->push_back(std::move(f));
  }
}

void AddKernelFindings(const KernelSettings& settings, const Report& report,
                       std::vector<Finding>* out) {
  const auto overflow = report.counters.Get("TcpExtTCPTimeWaitOverflow").value_or(0);
  if (overflow > 0) {
    Finding f;
    f.severity = Severity::kWarning;
    f.code = "tw_overflow";
    f.subject = "net.ipv4.tcp_max_tw_buckets";
    f.title = fmt::format(
        "{} closing sockets skipped TIME_WAIT since boot because tcp_max_tw_buckets ({}) was "
        "reached: TIME_WAIT counts understate churn",
        WithThousands(static_cast<std::uint64_t>(overflow)),
        settings.Get("net.ipv4.tcp_max_tw_buckets").value_or("?"));
    f.advice =
        "Cut the churn (pool connections). Lowering tcp_max_tw_buckets to make TIME_WAIT "
        "disappear only removes the protection against stray segments of old connections.";
    out->push_back(std::move(f));
  }

  const auto recycled = report.counters.Get("TcpExtTWRecycled").value_or(0);
  const auto reuse = settings.GetInt("net.ipv4.tcp_tw_reuse").value_or(0);
  if (recycled > 0 && reuse != 0) {
    Finding f;
    f.severity = Severity::kInfo;
    f.code = "tw_reuse_hides_churn";
    f.subject = "net.ipv4.tcp_tw_reuse";
    std::string now;
    if (report.rates && report.rates->tw_recycled > 0)
      now = fmt::format(", {}/s now", Rate(report.rates->tw_recycled));
    f.title = fmt::format(
        "The kernel reused {} TIME_WAIT sockets for new connections since boot{} "
        "(tcp_tw_reuse={}{}): TIME_WAIT counts understate how many connections are made",
        WithThousands(static_cast<std::uint64_t>(recycled)), now, reuse,
        reuse == 2 ? ", loopback only" : "");
    f.advice =
        "Read the connection rate from TcpExtTW (`longlink diagnose --watch`) rather than from "
        "TIME_WAIT counts, especially for loopback destinations.";
    out->push_back(std::move(f));
  }

  if (auto recycle = settings.GetInt("net.ipv4.tcp_tw_recycle"); recycle && *recycle != 0) {
    Finding f;
    f.severity = Severity::kCritical;
    f.code = "tw_recycle_set";
    f.subject = "net.ipv4.tcp_tw_recycle";
    f.title = "net.ipv4.tcp_tw_recycle is on: connections from clients behind NAT are dropped";
    f.advice =
        "Set it to 0. It drops SYNs whose timestamps are not increasing per host, which is "
        "always the case behind NAT; Linux 4.12 removed it for that reason.";
    out->push_back(std::move(f));
  }

  if (auto ts = settings.GetInt("net.ipv4.tcp_timestamps"); ts && *ts == 0) {
    Finding f;
    f.severity = Severity::kWarning;
    f.code = "timestamps_off";
    f.subject = "net.ipv4.tcp_timestamps";
    f.title =
        "TCP timestamps are off: tcp_tw_reuse cannot reuse TIME_WAIT ports, and PAWS "
        "protection is lost";
    f.advice = "Set net.ipv4.tcp_timestamps=1 (the default).";
    out->push_back(std::move(f));
  }
}

}  // namespace

std::optional<Severity> ChurnSeverity(const DestinationGroup& g,
                                      std::span<const PortPressure> port_pressure) {
  const std::uint64_t tw = g.counts[TcpState::kTimeWait];
  if (tw == 0) return std::nullopt;
  const double rate = ChurnRate(g);
  if (g.direction == Direction::kOutbound) {
    const bool ports_critical =
        std::any_of(port_pressure.begin(), port_pressure.end(), [&](const PortPressure& p) {
          return p.remote == g.service && p.level == Level::kCritical;
        });
    if (rate >= 100 || ports_critical) return Severity::kCritical;
    if (rate >= 5 || tw >= 500) return Severity::kWarning;
    if (tw >= 50) return Severity::kInfo;
    return std::nullopt;
  }
  if (rate >= 100 || tw >= 5000) return Severity::kWarning;
  if (tw >= 50) return Severity::kInfo;
  return std::nullopt;
}

std::string WithThousands(std::uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string DescribeService(const Endpoint& endpoint) {
  auto name = ServiceName(endpoint.port);
  return name ? fmt::format("{} ({})", endpoint.ToString(), *name) : endpoint.ToString();
}

std::vector<SysctlAudit> AuditSysctls(const KernelSettings& settings,
                                      const KernelCounters& counters, const Report& report) {
  std::vector<SysctlAudit> audits;
  const bool ports_tight = std::any_of(report.port_pressure.begin(), report.port_pressure.end(),
                                       [](const PortPressure& p) { return p.level != Level::kOk; });
  for (const auto& s : settings.sysctls) {
    SysctlAudit a;
    a.name = s.name;
    a.value = s.value;
    const auto n = settings.GetInt(s.name);
    const std::string& name = s.name;
    if (name == "net.ipv4.tcp_tw_reuse") {
      if (!n) continue;
      if (*n == 0) {
        a.meaning = "TIME_WAIT sockets are never reused for new outgoing connections.";
        a.note =
            "Turning it on helps only outgoing connect() with TCP timestamps on both ends, "
            "and hides churn instead of removing it.";
      } else if (*n == 1) {
        a.meaning =
            "New outgoing connections may take over a TIME_WAIT socket older than "
            "tcp_tw_reuse_delay when both ends use TCP timestamps.";
        a.note = "Safe with timestamps, but TIME_WAIT counts then understate the connection rate.";
      } else {
        a.meaning = "As 1, but for loopback connections only (the default since Linux 4.19).";
        a.note = "Loopback TIME_WAIT counts understate churn; see TcpExtTWRecycled.";
      }
    } else if (name == "net.ipv4.tcp_tw_reuse_delay") {
      if (!s.value) continue;  // kernels before 6.x: fixed at 1 s
      a.meaning = "Milliseconds a TIME_WAIT socket must age before tcp_tw_reuse may take it.";
      a.note = "Default 1000.";
    } else if (name == "net.ipv4.tcp_tw_recycle") {
      if (!n) {
        a.meaning = "Absent: removed in Linux 4.12.";
        a.note =
            "It broke clients behind NAT (their timestamps do not increase per host) and, "
            "with per-connection timestamp offsets, all connections. Advice to set it is "
            "obsolete and harmful.";
      } else if (*n == 0) {
        a.meaning = "Off (this kernel predates 4.12, which removed it).";
        a.note = "Keep it off: it drops connections from clients behind NAT.";
      } else {
        a.meaning = "On: SYNs with older timestamps from the same host are dropped.";
        a.advice = Advice::kChange;
        a.note = "Set it to 0: it breaks every client behind NAT.";
      }
    } else if (name == "net.ipv4.tcp_timestamps") {
      if (!n) continue;
      if (*n == 0) {
        a.meaning = "TCP timestamps off: no PAWS, no tcp_tw_reuse, coarser RTT estimates.";
        a.advice = Advice::kChange;
        a.note = "Set it to 1 (the default).";
      } else if (*n == 1) {
        a.meaning = "On, with a random offset per connection (the default).";
      } else {
        a.meaning = "On, without random offsets.";
      }
    } else if (name == "net.ipv4.tcp_max_tw_buckets") {
      if (!n) continue;
      a.meaning =
          fmt::format("At most {} TIME_WAIT sockets; past that, closing sockets skip TIME_WAIT.",
                      WithThousands(static_cast<std::uint64_t>(*n)));
      const auto overflow = counters.Get("TcpExtTCPTimeWaitOverflow").value_or(0);
      const auto tw = counters.Get("sockstat_tw").value_or(0);
      if (overflow > 0) {
        a.advice = Advice::kConsider;
        a.note = fmt::format(
            "Reached {} times (TcpExtTCPTimeWaitOverflow). Cut the churn; lowering the limit is "
            "not a fix.",
            WithThousands(static_cast<std::uint64_t>(overflow)));
      } else if (*n > 0 && tw * 10 >= *n * 8) {
        a.advice = Advice::kConsider;
        a.note = "TIME_WAIT is above 80% of the limit. Cut the churn first.";
      } else {
        a.note = "Lowering it to make TIME_WAIT vanish removes the protection TIME_WAIT gives.";
      }
    } else if (name == "net.ipv4.tcp_fin_timeout") {
      if (!n) continue;
      a.meaning = fmt::format(
          "Orphaned FIN_WAIT2 sockets wait {} s for the peer's FIN. It does not change TIME_WAIT, "
          "which is fixed at 60 s: a common myth.",
          *n);
      if (report.states.fin_wait2_orphans > 0) {
        a.note = "FIN_WAIT2 orphans are present: the peer is slow to close; fix the peer.";
      }
    } else if (name == "net.ipv4.ip_local_port_range") {
      if (!s.value) continue;
      a.meaning = fmt::format(
          "{} ephemeral ports for outgoing connections, per (source address, destination "
          "address, destination port).",
          WithThousands(report.port_range.size()));
      if (ports_tight) {
        a.advice = Advice::kConsider;
        a.note =
            "Some destinations are short of ports. Widening the range postpones exhaustion; "
            "pooling removes it.";
      }
    } else if (name == "net.ipv4.ip_local_reserved_ports") {
      if (!s.value) continue;
      a.meaning = fmt::format("{} ports of the ephemeral range are reserved.",
                              WithThousands(report.port_range.reserved));
    } else if (name == "net.core.somaxconn") {
      if (!n) continue;
      a.meaning = fmt::format("Upper bound of every listen() backlog: {}.", *n);
      const auto overflows = counters.Get("TcpExtListenOverflows").value_or(0);
      if (*n < 1024 && overflows > 0) {
        a.advice = Advice::kConsider;
        a.note = fmt::format(
            "Listen queues overflowed {} times (TcpExtListenOverflows); bursts of short "
            "connections need a larger backlog.",
            WithThousands(static_cast<std::uint64_t>(overflows)));
      }
    } else {
      continue;
    }
    audits.push_back(std::move(a));
  }
  return audits;
}

std::string ProxyConfigSnippet(const DestinationGroup& group) {
  std::uint64_t live = group.counts[TcpState::kEstablished];
  std::uint64_t pool = std::clamp<std::uint64_t>(live * 2, 8, 64);
  return fmt::format(
      "# longlink proxy for {0}, suggested by `longlink diagnose`.\n"
      "# Check it: longlink proxy --check-config longlink.toml\n"
      "# Run it:   longlink proxy --config longlink.toml\n"
      "\n"
      "[listen]\n"
      "unix_socket = \"/run/longlink/mysql.sock\"  # local applications: no TCP, no TIME_WAIT\n"
      "tcp = [\"127.0.0.1:6033\"]                  # for clients that cannot use a Unix socket\n"
      "\n"
      "[backend]\n"
      "address = \"{0}\"\n"
      "\n"
      "[pool]\n"
      "max_connections = {1:<3}  # backend connections per pool; {2} live connection{3} seen now\n"
      "min_idle = 2           # kept open and checked, so clients skip the handshake\n"
      "\n"
      "[[users]]\n"
      "name = \"app\"                  # the MySQL user the application logs in with\n"
      "password_hash = \"*0000000000000000000000000000000000000000\"  # SELECT "
      "authentication_string FROM mysql.user WHERE user = 'app'\n",
      group.service.ToString(), pool, live, live == 1 ? "" : "s");
}

void Conclude(const KernelSettings& settings, Report* report) {
  std::vector<Finding> findings;
  AddChurnFindings(*report, &findings);
  AddPortFindings(*report, &findings);
  AddCloseWaitFindings(*report, &findings);
  AddOrphanFindings(settings, *report, &findings);
  AddKernelFindings(settings, *report, &findings);
  AddProxyFindings(*report, &findings);
  if (report->partial()) {
    Finding f;
    f.severity = Severity::kWarning;
    f.code = "partial_data";
    f.subject = "this report";
    f.title = "Partial data: " + report->partial_reasons.front();
    f.advice = "Run as root for a complete report.";
    findings.push_back(std::move(f));
  }
  std::stable_sort(findings.begin(), findings.end(),
                   [](const Finding& a, const Finding& b) { return a.severity < b.severity; });

  const bool serious = !findings.empty() && findings.front().severity != Severity::kInfo;
  if (!serious) {
    Finding f;
    f.severity = Severity::kInfo;
    f.code = "healthy";
    f.subject = "this host";
    f.title = "No connection churn, CLOSE_WAIT leak or port shortage found";
    f.advice = "Nothing to change.";
    findings.insert(findings.begin(), std::move(f));
    report->verdict = "Healthy: no connection churn, CLOSE_WAIT leak or port shortage.";
  } else {
    const Finding& top = findings.front();
    auto more = std::count_if(findings.begin() + 1, findings.end(),
                              [](const Finding& f) { return f.severity != Severity::kInfo; });
    report->verdict = top.title + ". " + FirstSentence(top.advice);
    if (more > 0) {
      report->verdict += fmt::format(" ({} more finding{} below.)", more, more == 1 ? "" : "s");
    }
  }
  if (std::string proxies = ProxyVerdictSentence(*report, findings); !proxies.empty())
    report->verdict += " " + proxies;
  report->findings = std::move(findings);

  report->proxy_config.reset();
  for (const auto& g : report->destinations) {
    if (g.direction != Direction::kOutbound || !IsMysql(g.service)) continue;
    if (PooledByProxy(*report, g.service)) continue;  // A proxy runs for it already.
    bool churns =
        std::any_of(report->findings.begin(), report->findings.end(), [&](const Finding& f) {
          return f.code == "short_lived_connections" && f.subject == g.service.ToString();
        });
    if (churns) {
      report->proxy_config = ProxyConfigSnippet(g);
      break;
    }
  }
}

}  // namespace longlink::diag
