// Finding running `longlink proxy` processes, and the admin socket each one's config names.
//
// A proxy is a process whose argv[0] has the basename "longlink" and whose argv[1] is "proxy".
// Its config is the value of --config FILE (or --config=FILE), relative to the process's
// working directory (/proc/PID/cwd) when not absolute. Processes in another network namespace
// than ours are skipped (when both namespaces can be read): their sockets are not in this
// report. Everything takes the /proc root as an argument, so tests use a directory of their own.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "diag/proxy_figures.h"

namespace longlink::diag {

// The --config argument of a `longlink proxy` command line, or nullopt when `argv` is not one
// (an empty string when it is a proxy without --config).
std::optional<std::string> ProxyConfigArgument(std::span<const std::string> argv);

// A proxy process found in /proc.
struct FoundProxy {
  int pid = 0;
  std::string config_file = {};  // Resolved path, or empty when it runs on flags alone.
};

// The proxies among proc_root's processes, by pid. `own_netns`: the network namespace to
// match (the target of /proc/self/ns/net), or empty to take every proxy.
std::vector<FoundProxy> FindProxyProcesses(const std::string& proc_root,
                                           const std::string& own_netns);

// The ProxyStatus of `found` before its console is asked: its config loaded (with
// config::LoadProxyConfig) and its admin socket named, or reach kConfigUnreadable /
// kNoAdminSocket with the reason.
ProxyStatus DescribeFoundProxy(const FoundProxy& found);

}  // namespace longlink::diag
