#include "proxy/descriptor_limit.h"

#include <sys/resource.h>

#include <algorithm>

namespace longlink::proxy {

namespace {
constexpr std::uint64_t kMargin = 64;  // stdio, epoll, eventfds, the idle watcher, timers.
}  // namespace

DescriptorLimit EnsureDescriptorLimit(std::uint64_t needed) {
  DescriptorLimit result;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return result;
  result.before = result.now = limit.rlim_cur;
  result.hard = limit.rlim_max;
  const rlim_t wanted = std::min<rlim_t>(limit.rlim_max, std::max<rlim_t>(needed, limit.rlim_cur));
  if (wanted > limit.rlim_cur) {
    limit.rlim_cur = wanted;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) result.now = wanted;
  }
  result.enough = result.now >= needed;
  return result;
}

std::uint64_t DescriptorsNeeded(std::uint64_t max_clients, std::uint64_t backend_connections,
                                std::uint64_t listener_descriptors) {
  return max_clients + backend_connections + listener_descriptors + kMargin;
}

}  // namespace longlink::proxy
