// A report built from synthetic sockets and settings, the way TakeSample builds one from the
// host, for analysis and render tests.
#pragma once

#include <vector>

#include "diag/analysis.h"
#include "diag/census.h"
#include "synthetic_sockets.h"

namespace longlink::diag::testing {

inline KernelSettings DefaultSettings() {
  KernelSettings s;
  s.sysctls = {{"net.ipv4.tcp_tw_reuse", "2"},
               {"net.ipv4.tcp_tw_reuse_delay", "1000"},
               {"net.ipv4.tcp_tw_recycle", std::nullopt},
               {"net.ipv4.tcp_timestamps", "1"},
               {"net.ipv4.tcp_max_tw_buckets", "131072"},
               {"net.ipv4.tcp_fin_timeout", "60"},
               {"net.ipv4.ip_local_port_range", "32768 60999"},
               {"net.ipv4.ip_local_reserved_ports", ""},
               {"net.core.somaxconn", "4096"}};
  return s;
}

inline void SetSysctl(KernelSettings* s, const char* name, std::optional<std::string> value) {
  for (auto& v : s->sysctls) {
    if (v.name == name) v.value = value;
  }
}

// Runs the same steps as TakeSample on the given inputs.
inline Report BuildReport(const std::vector<SocketRecord>& sockets, const KernelSettings& settings,
                          KernelCounters counters = {}, const SocketOwners& owners = {},
                          std::vector<std::string> partial = {},
                          std::vector<ProxyStatus> proxies = {}) {
  Report r;
  r.generated_at = "2026-11-25T10:00:00Z";
  r.host = "test-host";
  r.source = "netlink";
  r.port_range = settings.port_range;
  r.counters = std::move(counters);
  r.partial_reasons = std::move(partial);
  Census c = TakeCensus(sockets, {}, settings.port_range, r.window_seconds);
  Attribution a = AttributeSockets(owners, &c);
  r.close_wait = a.close_wait;
  r.close_wait_unattributed = a.close_wait_unattributed;
  r.states = c.states;
  r.destinations = c.destinations;
  r.port_pressure = c.port_pressure;
  r.listening_ports = c.listening_ports;
  r.proxies = std::move(proxies);
  r.sysctls = AuditSysctls(settings, r.counters, r);
  Conclude(settings, &r);
  return r;
}

// 30,412 client-closed TIME_WAIT to a remote MySQL at ~507/s, from three source addresses.
inline std::vector<SocketRecord> MysqlChurn() {
  std::vector<SocketRecord> s;
  const char* sources[] = {"10.0.0.9", "10.0.0.10", "10.0.0.11"};
  for (int k = 0; k < 3; ++k) {
    int n = k == 0 ? 10138 : 10137;
    AddTimeWait(&s, sources[k], 33000, Ep("10.0.0.5", 3306), n, [n](int i) {
      return static_cast<std::uint32_t>(60000 - static_cast<long>(i) * 60000 / n);
    });
  }
  s.push_back(Sock(TcpState::kEstablished, Ep("10.0.0.9", 50000), Ep("10.0.0.5", 3306), 300));
  return s;
}

}  // namespace longlink::diag::testing
