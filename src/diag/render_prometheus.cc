#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "diag/render.h"
#include "diag/services.h"

namespace longlink::diag {
namespace {

// Label values escape backslash, double quote and newline (text exposition format 0.0.4).
std::string Escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

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
  return fmt::format(R"(direction="{}",address="{}",port="{}",service="{}")",
                     DirectionName(g.direction), Escape(g.service.address.ToString()),
                     g.service.port, service ? *service : "");
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
                         Escape(p.local_address.ToString()), Escape(p.remote.address.ToString()),
                         p.remote.port),
             p.ratio);
  }
  e.Family("longlink_tcp_close_wait_by_process", "CLOSE_WAIT sockets per process (top N).");
  for (std::size_t i = 0; i < std::min(top, r.close_wait.size()); ++i) {
    const auto& c = r.close_wait[i];
    e.Sample("longlink_tcp_close_wait_by_process",
             fmt::format(R"(pid="{}",command="{}")", c.process.pid, Escape(c.process.command)),
             static_cast<double>(c.count));
  }
  e.Family("longlink_sysctl", "Numeric kernel settings that decide what TIME_WAIT costs.");
  for (const auto& s : r.sysctls) {
    if (!s.value) continue;
    double value;
    auto [ptr, ec] = std::from_chars(s.value->data(), s.value->data() + s.value->size(), value);
    if (ec != std::errc() || ptr != s.value->data() + s.value->size()) continue;
    e.Sample("longlink_sysctl", fmt::format(R"(name="{}")", Escape(s.name)), value);
  }
  e.Family("longlink_tcp_counter", "Kernel TCP counters as read (cumulative since boot).");
  for (const char* name : {"TcpExtTW", "TcpExtTWRecycled", "TcpExtTWKilled",
                           "TcpExtTCPTimeWaitOverflow", "TcpExtListenOverflows", "TcpActiveOpens",
                           "TcpPassiveOpens", "TcpCurrEstab", "sockstat_tw"}) {
    if (auto v = r.counters.Get(name)) {
      e.Sample("longlink_tcp_counter", fmt::format(R"(name="{}")", name), static_cast<double>(*v));
    }
  }
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
