// The `longlink proxy` process: worker threads, each with its own event loop; listeners whose
// accepts are spread over the workers; the pool janitor; signals.
#pragma once

#include "common/result.h"
#include "config/proxy_config.h"

namespace longlink::proxy {

// Binds every listener, then serves until SIGTERM or SIGINT. Returns the process exit code
// (0 after a signal; 1 if a listener cannot be set up, with the reason logged).
int RunProxy(const config::ProxyConfig& config);

}  // namespace longlink::proxy
