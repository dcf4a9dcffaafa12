#include "config/proxy_config_rules.h"

#include <cstdio>
#include <set>
#include <string>

#include "auth/native_password.h"
#include "config/admin_settings_loader.h"
#include "config/tls_settings_loader.h"

namespace longlink::config {

namespace {

using Problem = ConfigProblem;

constexpr std::uint64_t kMaxPacket = 1ULL << 30;  // MySQL's own max_allowed_packet limit.

std::string Octal(std::uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0%o", value);
  return buffer;
}

std::optional<Problem> CheckDuration(std::string_view key, Milliseconds value) {
  if (value.count() > 0) return std::nullopt;
  return Problem{std::string(key), "must be greater than zero"};
}

std::optional<Problem> CheckSocketPath(std::string_view key, const std::string& path) {
  if (path.front() != '/')
    return Problem{std::string(key), Quoted(path) + " must be an absolute path"};
  if (path.size() > kMaxUnixPathLength) {
    return Problem{std::string(key), Quoted(path) + " is longer than " +
                                         std::to_string(kMaxUnixPathLength) + " bytes"};
  }
  return std::nullopt;
}

std::optional<Problem> CheckProxy(const ProxySettings& proxy) {
  if (proxy.workers > 1024) {
    return Problem{"proxy.workers", "must be from 0 to 1024, got " + std::to_string(proxy.workers)};
  }
  if (proxy.max_client_connections < 1) {
    return Problem{"proxy.max_client_connections", "must be at least 1, got 0"};
  }
  if (auto p = CheckDuration("proxy.handshake_timeout", proxy.handshake_timeout)) return p;
  if (auto p = CheckDuration("proxy.net_read_timeout", proxy.net_read_timeout)) return p;
  const std::string& level = proxy.log_level;
  if (level != "error" && level != "warning" && level != "info" && level != "debug") {
    return Problem{"proxy.log_level", Quoted(level) + " is not one of error, warning, info, debug"};
  }
  if (proxy.server_version.find('\0') != std::string::npos) {
    return Problem{"proxy.server_version", "must not contain a NUL byte"};
  }
  if (proxy.max_allowed_packet > kMaxPacket) {
    return Problem{"proxy.max_allowed_packet",
                   "must be at most 1GiB, got " + std::to_string(proxy.max_allowed_packet)};
  }
  return std::nullopt;
}

std::optional<Problem> CheckListen(const ListenSettings& listen) {
  if (listen.tcp.empty() && listen.unix_socket.empty()) {
    return Problem{"listen", "no listener: set listen.tcp or listen.unix_socket"};
  }
  for (std::size_t i = 0; i < listen.tcp.size(); ++i) {
    const SocketAddress& address = listen.tcp[i];
    const std::string path = "listen.tcp[" + std::to_string(i) + "]";
    if (address.kind == SocketAddress::Kind::kUnix) {
      return Problem{"listen.tcp", Quoted(address.path) + " is a path: use listen.unix_socket",
                     path};
    }
    if (address.host.empty() || address.port == 0) {
      return Problem{"listen.tcp", "an address without host or port", path};
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (listen.tcp[j] == address) {
        return Problem{"listen.tcp", Quoted(address.ToString()) + " is listed twice", path};
      }
    }
  }
  if (!listen.unix_socket.empty()) {
    if (auto p = CheckSocketPath("listen.unix_socket", listen.unix_socket)) return p;
  }
  if (listen.unix_socket_mode > 0777) {
    return Problem{"listen.unix_socket_mode",
                   Octal(listen.unix_socket_mode) +
                       " is not a file mode (at most 0777); write octal as a string: \"0660\""};
  }
  if (listen.backlog < 1 || listen.backlog > 65535) {
    return Problem{"listen.backlog",
                   "must be from 1 to 65535, got " + std::to_string(listen.backlog)};
  }
  return std::nullopt;
}

std::optional<Problem> CheckBackend(const BackendSettings& backend) {
  const SocketAddress& address = backend.address;
  if (address.kind == SocketAddress::Kind::kTcp && (address.host.empty() || address.port == 0)) {
    return Problem{"backend.address", "missing (the server to pool connections to)"};
  }
  if (address.kind == SocketAddress::Kind::kUnix) {
    if (address.path.empty()) return Problem{"backend.address", "missing socket path"};
    if (auto p = CheckSocketPath("backend.address", address.path)) return p;
  }
  if (backend.max_connections < 1) {
    return Problem{"backend.max_connections", "must be at least 1, got 0"};
  }
  if (auto p = CheckDuration("backend.connect_timeout", backend.connect_timeout)) return p;
  return CheckDuration("backend.retry_timeout", backend.retry_timeout);
}

std::optional<Problem> CheckPool(const PoolSettings& pool) {
  if (pool.max_connections < 1) return Problem{"pool.max_connections", "must be at least 1, got 0"};
  if (pool.min_idle > pool.max_connections) {
    return Problem{"pool.min_idle", std::to_string(pool.min_idle) +
                                        " is more than pool.max_connections (" +
                                        std::to_string(pool.max_connections) + ")"};
  }
  if (pool.max_user_connections != 0 && pool.min_idle > pool.max_user_connections) {
    return Problem{"pool.min_idle", std::to_string(pool.min_idle) +
                                        " is more than pool.max_user_connections (" +
                                        std::to_string(pool.max_user_connections) + ")"};
  }
  const std::pair<const char*, Milliseconds> durations[] = {
      {"pool.queue_timeout", pool.queue_timeout},
      {"pool.keepalive_interval", pool.keepalive_interval},
      {"pool.check_delay", pool.check_delay},
      {"pool.max_idle_time", pool.max_idle_time},
      {"pool.max_lifetime", pool.max_lifetime}};
  for (const auto& [key, value] : durations) {
    if (auto p = CheckDuration(key, value)) return p;
  }
  return std::nullopt;
}

std::optional<Problem> CheckUsers(const std::vector<UserSettings>& users,
                                  const AuthSettings& auth) {
  if (users.empty() && auth.user.empty()) {
    return Problem{"users",
                   "no [[users]] entry and no [auth] user: list the users clients log in as, or "
                   "name an account to read them from the server with"};
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < users.size(); ++i) {
    const UserSettings& user = users[i];
    const std::string entry = "users[" + std::to_string(i) + "]";
    const std::string who = "user '" + user.name + "'";
    if (user.name.empty()) return Problem{"users.name", "must not be empty", entry + ".name"};
    if (!names.insert(user.name).second) {
      return Problem{"users.name", who + " is listed twice", entry + ".name"};
    }
    if (user.password && user.password_hash) {
      return Problem{"users.password", who + " has both password and password_hash; keep one",
                     entry};
    }
    if (!user.password && !user.password_hash) {
      return Problem{"users.password", who + " needs password or password_hash", entry};
    }
    // "" is what mysql.user stores for a user without a password.
    if (user.password_hash && !user.password_hash->empty()) {
      auto parsed = auth::ParseNativePasswordHash(*user.password_hash);
      if (!parsed.ok()) {
        return Problem{"users.password_hash", who + ": " + parsed.error().message,
                       entry + ".password_hash"};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ConfigProblem> FindProblem(const ProxyConfig& config) {
  if (auto p = CheckProxy(config.proxy)) return p;
  if (auto p = CheckListen(config.listen)) return p;
  if (auto p = CheckBackend(config.backend)) return p;
  if (auto p = CheckPool(config.pool)) return p;
  if (config.pool.min_idle > config.backend.max_connections) {
    return Problem{"pool.min_idle", std::to_string(config.pool.min_idle) +
                                        " is more than backend.max_connections (" +
                                        std::to_string(config.backend.max_connections) + ")"};
  }
  if (config.auth.cache_ttl.count() < 0) {
    return Problem{"auth.cache_ttl", "must not be negative"};
  }
  if (auto p = CheckClientTls(config.client_tls)) return p;
  if (auto p = CheckBackendTls(config.backend_tls)) return p;
  if (auto p = CheckAdmin(config.admin)) return p;
  if (auto p = CheckMetrics(config.metrics)) return p;
  if (config.listen.require_tls && !config.client_tls.enabled() && !config.listen.tcp.empty()) {
    return Problem{"listen.require_tls",
                   "TCP clients cannot use TLS without [client_tls] cert and key"};
  }
  if (!config.client_tls.enabled()) {
    for (std::size_t i = 0; i < config.users.size(); ++i) {
      if (config.users[i].require_tls) {
        return Problem{"users.require_tls",
                       "user '" + config.users[i].name +
                           "' cannot log in: require_tls needs [client_tls] cert and key",
                       "users[" + std::to_string(i) + "].require_tls"};
      }
    }
  }
  return CheckUsers(config.users, config.auth);
}

}  // namespace longlink::config
