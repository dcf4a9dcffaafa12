// The rules a ProxyConfig keeps across its keys, whatever built it: a file (ParseProxyConfig),
// the command line's flags, or both (config/proxy_config.h has the values). The types and
// formats of single values are checked where they are read (Loader, the flags); these rules
// see the finished config. Among them: a listener and a backend, durations above zero,
// absolute socket paths that fit sockaddr_un, min_idle within the connection limits, a way for
// users to log in ([[users]] with unique names and one valid password form each, or an [auth]
// account), TLS where require_tls asks for it, and the rules of [client_tls], [backend_tls],
// [admin] and [metrics] (CheckClientTls, CheckBackendTls, CheckAdmin, CheckMetrics).
#pragma once

#include <optional>

#include "config/proxy_config.h"
#include "config/toml_loader.h"

namespace longlink::config {

// The first rule `config` breaks, or nullopt. The rules are checked in a fixed order, so a
// config always gets the same problem. A problem with an entry of an array names its path
// ("users[1].name", "listen.tcp[0]"), so that a file's error can point at that entry's line.
std::optional<ConfigProblem> FindProblem(const ProxyConfig& config);

}  // namespace longlink::config
