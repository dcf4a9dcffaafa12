// The judgment of `longlink diagnose`: what each kernel setting really does here, which
// findings the census supports, the one-line verdict, and a proxy configuration to start from.
// Pure functions of the report's data, so every rule is tested on recorded inputs.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "diag/report.h"

namespace longlink::diag {

// The severity of the churn finding `group` earns (short_lived_connections when outbound,
// server_closes_first when inbound), or nullopt when its TIME_WAIT is too little to report.
// REQUIRES: the group's rates computed; `port_pressure` is the census's.
std::optional<Severity> ChurnSeverity(const DestinationGroup& group,
                                      std::span<const PortPressure> port_pressure);

// Audits the sysctls in `settings` (in their order), using counters and the census for context.
std::vector<SysctlAudit> AuditSysctls(const KernelSettings& settings,
                                      const KernelCounters& counters, const Report& report);

// Fills report->findings (ordered by severity), report->verdict and report->proxy_config from
// the rest of the report. REQUIRES: states, destinations, port_pressure, close_wait, counters,
// sysctls and partial_reasons filled in.
void Conclude(const KernelSettings& settings, Report* report);

// A `longlink proxy` TOML configuration that pools connections to `group`'s service.
// The keys are the proxy's configuration keys (docs/CONFIG.md).
std::string ProxyConfigSnippet(const DestinationGroup& group);

// "30,412": thousands separated, for sentences and tables.
std::string WithThousands(std::uint64_t value);

// "10.0.0.5:3306 (mysql)", or the bare endpoint for unknown ports.
std::string DescribeService(const Endpoint& endpoint);

}  // namespace longlink::diag
