// The judgment about running `longlink proxy` processes (Report::proxies): what each saves,
// whether its console could be read, pools near their limits, pinned clients, and how the
// churn findings change when a proxy explains them:
// - churn to a proxy's backend: the proxy already pools it, so either other processes bypass
//   the proxy, or the proxy itself opens connections that do not last;
// - churn toward a proxy's TCP listener: its clients connect per request over TCP; over the
//   proxy's Unix socket that TIME_WAIT disappears.
// Pure functions of the report, called by Conclude (analysis.h).
#pragma once

#include <string>
#include <vector>

#include "diag/report.h"

namespace longlink::diag {

// Adds the proxies' findings to *findings and rewrites the advice of the churn findings
// (short_lived_connections, server_closes_first) that a proxy explains. REQUIRES: the churn
// findings are in *findings; the order is the caller's to sort.
void AddProxyFindings(const Report& report, std::vector<Finding>* findings);

// A sentence for the end of the verdict when a proxy whose figures were read pools a backend
// that shows no churn ("longlink proxy pid 812 pools 10.0.0.5:3306: ..."), or empty.
std::string ProxyVerdictSentence(const Report& report, const std::vector<Finding>& findings);

// True when a proxy of the report names `service` as its backend (so no proxy configuration
// needs suggesting for it).
bool PooledByProxy(const Report& report, const Endpoint& service);

// True when `service` is one of `proxy`'s TCP listeners (a wildcard listener matches any
// address of its port).
bool IsProxyListener(const ProxyStatus& proxy, const Endpoint& service);

}  // namespace longlink::diag
