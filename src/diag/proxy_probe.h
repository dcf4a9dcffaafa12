// Asking a running `longlink proxy` what it saves: log in to its admin console (AdminClient,
// peer credentials on the Unix socket) and read SHOW TOTALS, SHOW POOLS and SHOW CONFIG into a
// ProxyStatus. The parsers take result sets by column and row name, ignore names they do not
// know (the console may add more) and keep strings printable (LogSafe, capped).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "diag/admin_client.h"
#include "diag/proxy_figures.h"
#include "diag/text_result_set.h"

namespace longlink::diag {

// SHOW TOTALS (columns name, value). An error when the columns are missing or a number is not
// one.
Result<ProxyTotals> ParseProxyTotals(const TextResultSet& result);
// SHOW POOLS, by column name; user and pool are required, missing numbers read as 0. At most
// kMaxProxyPools rows are kept.
inline constexpr std::size_t kMaxProxyPools = 1000;
Result<std::vector<ProxyPool>> ParseProxyPools(const TextResultSet& result);
// SHOW CONFIG (columns key, value): the keys of ProxyListeners laid over `known` (what the
// config file said, if it was read).
Result<ProxyListeners> ParseProxyConfig(const TextResultSet& result, ProxyListeners known);

// Logs in to status->admin_socket as EffectiveUserName() and reads the three commands. Sets
// reach (kUnreachable, kRefused, kFailed or kRead), error and the figures, and the pid from
// SHOW TOTALS when status->pid is 0. REQUIRES: status->admin_socket is set.
void ReadProxyFigures(ProxyStatus* status, const AdminClientOptions& options = {});

// Every proxy diagnose should report: with `admin_socket` (--proxy-admin), that console alone;
// otherwise the proxies found in proc_root in our network namespace, each read when its
// config names an admin socket. Empty when there is none.
std::vector<ProxyStatus> ProbeProxies(const std::optional<std::string>& admin_socket,
                                      const std::string& proc_root = "/proc");

}  // namespace longlink::diag
