// The process's file-descriptor limit against what the configuration can use.
//
// A proxy holds one descriptor per client and one per backend connection. Started from a
// shell or a systemd unit it usually gets a soft limit of 1024, so without this step the
// 1,021st client gets EMFILE at accept. EnsureDescriptorLimit raises the soft RLIMIT_NOFILE
// as far as the hard limit allows (never lowers it) and says whether that covers `needed`.
#pragma once

#include <cstdint>
#include <string>

namespace longlink::proxy {

struct DescriptorLimit {
  std::uint64_t before = 0;  // The soft limit found.
  std::uint64_t now = 0;     // The soft limit after raising it.
  std::uint64_t hard = 0;
  bool enough = false;  // now >= needed.
};

// Raises the soft limit to min(hard, max(needed, soft)). Needs no privilege.
DescriptorLimit EnsureDescriptorLimit(std::uint64_t needed);

// Descriptors a configuration can use at most: every client, max_connections for each
// user's pools (one key per user in practice), the listeners on every worker, and a margin
// for logs, epoll and the like.
std::uint64_t DescriptorsNeeded(std::uint64_t max_clients, std::uint64_t backend_connections,
                                std::uint64_t listener_descriptors);

}  // namespace longlink::proxy
