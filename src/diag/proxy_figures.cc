#include "diag/proxy_figures.h"

#include <fmt/format.h>

namespace longlink::diag {

std::string ProxyStatus::Name() const {
  return pid > 0 ? fmt::format("longlink proxy pid {}", pid)
                 : fmt::format("longlink proxy at {}", admin_socket);
}

std::string_view ProxyReachName(ProxyReach reach) {
  switch (reach) {
    case ProxyReach::kConfigUnreadable:
      return "config_unreadable";
    case ProxyReach::kNoAdminSocket:
      return "no_admin_socket";
    case ProxyReach::kUnreachable:
      return "unreachable";
    case ProxyReach::kRefused:
      return "refused";
    case ProxyReach::kFailed:
      return "failed";
    case ProxyReach::kRead:
      return "read";
  }
  return "failed";
}

}  // namespace longlink::diag
