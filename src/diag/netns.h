// Entering another network namespace, for `longlink diagnose --netns`.
#pragma once

#include <string>

#include "common/result.h"

namespace longlink::diag {

// Moves the calling (single-threaded) process into the network namespace `name_or_path`: a
// name from `ip netns` (/run/netns/NAME) or a path such as /proc/PID/ns/net. Afterwards
// netlink, /proc/net and /proc/sys/net all describe that namespace. Needs CAP_SYS_ADMIN.
Status EnterNetworkNamespace(const std::string& name_or_path);

}  // namespace longlink::diag
