#include "config/proxy_config.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>

#include "config/admin_settings_loader.h"
#include "config/proxy_config_rules.h"
#include "config/tls_settings_loader.h"
#include "config/toml_loader.h"

namespace longlink::config {

std::optional<PoolMode> ParsePoolMode(std::string_view text) {
  if (text == "session") return PoolMode::kSession;
  if (text == "transaction") return PoolMode::kTransaction;
  return std::nullopt;
}

namespace {

// A pool mode at `key` (pool.mode, users.pool_mode).
Result<PoolMode> LoadPoolMode(const Loader& load, const toml::node& node, std::string_view key) {
  LL_CONFIG_TRY(text, load.String(node, key));
  const std::optional<PoolMode> mode = ParsePoolMode(*text);
  if (!mode) {
    return load.Fail(&node, key,
                     Quoted(*text) + " is not a pool mode: use \"session\" or \"transaction\"");
  }
  return *mode;
}

constexpr std::int64_t kMaxMilliseconds = std::numeric_limits<std::int64_t>::max();

// Splits "123unit" into the number and the unit; false if there is no leading number.
template <typename Int>
bool SplitNumber(std::string_view text, Int* value, std::string_view* unit) {
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, *value);
  if (error != std::errc() || stop == text.data()) return false;
  *unit = std::string_view(stop, static_cast<std::size_t>(end - stop));
  return true;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

Result<Milliseconds> ParseDuration(std::string_view text) {
  const auto bad = [&] {
    return Error{Quoted(text) + " is not a duration (examples: 500ms, 5s, 2m, 1h)"};
  };
  std::int64_t value = 0;
  std::string_view unit;
  if (!SplitNumber(text, &value, &unit)) return bad();
  std::int64_t scale = 0;
  if (unit == "ms") scale = 1;
  if (unit == "s" || unit.empty()) scale = 1000;
  if (unit == "m") scale = 60 * 1000;
  if (unit == "h") scale = 3600 * 1000;
  if (scale == 0) return bad();
  if (value > kMaxMilliseconds / scale || value < -kMaxMilliseconds / scale) {
    return Error{Quoted(text) + " is too long"};
  }
  return Milliseconds(value * scale);
}

Result<std::uint64_t> ParseSize(std::string_view text) {
  const auto bad = [&] {
    return Error{Quoted(text) + " is not a size (examples: 1024, \"64KiB\", \"16MiB\")"};
  };
  std::uint64_t value = 0;
  std::string_view unit;
  if (!SplitNumber(text, &value, &unit)) return bad();
  std::uint64_t scale = 0;
  if (unit.empty()) scale = 1;
  if (unit == "KiB" || EqualsIgnoringCase(unit, "K")) scale = 1ULL << 10;
  if (unit == "MiB" || EqualsIgnoringCase(unit, "M")) scale = 1ULL << 20;
  if (unit == "GiB" || EqualsIgnoringCase(unit, "G")) scale = 1ULL << 30;
  if (scale == 0) return bad();
  if (value > std::numeric_limits<std::uint64_t>::max() / scale) {
    return Error{Quoted(text) + " is too large"};
  }
  return value * scale;
}

namespace {

// Types and formats; the rules on values are FindProblem's, shared with configs from flags.
Result<ProxyConfig> Build(const toml::table& root, const Loader& load) {
  ProxyConfig config;
  if (auto s = load.CheckKeys(root, "",
                              {"proxy", "listen", "backend", "pool", "auth", "client_tls",
                               "backend_tls", "users", "admin", "metrics"});
      !s.ok()) {
    return s.error();
  }
  auto table_of = [&](std::string_view name) -> Result<const toml::table*> {
    const toml::node* node = root.get(name);
    if (node == nullptr) return static_cast<const toml::table*>(nullptr);
    if (!node->is_table())
      return load.WrongType(*node, name, "a table [" + std::string(name) + "]");
    return node->as_table();
  };

  LL_CONFIG_TRY(proxy, table_of("proxy"));
  if (*proxy != nullptr) {
    const toml::table& t = **proxy;
    if (auto s =
            load.CheckKeys(t, "proxy",
                           {"workers", "max_client_connections", "handshake_timeout",
                            "net_read_timeout", "log_level", "server_version", "max_allowed_packet",
                            "compression", "max_client_prepared_statements"});
        !s.ok()) {
      return s.error();
    }
    if (auto* n = t.get("workers")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "proxy.workers", 0, 1024));
      config.proxy.workers = static_cast<unsigned>(*v);
    }
    if (auto* n = t.get("max_client_connections")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "proxy.max_client_connections", 1, 1000000));
      config.proxy.max_client_connections = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("max_client_prepared_statements")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "proxy.max_client_prepared_statements", 1, 1048576));
      config.proxy.max_client_prepared_statements = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("handshake_timeout")) {
      LL_CONFIG_TRY(v, load.Duration(*n, "proxy.handshake_timeout"));
      config.proxy.handshake_timeout = *v;
    }
    if (auto* n = t.get("net_read_timeout")) {
      LL_CONFIG_TRY(v, load.Duration(*n, "proxy.net_read_timeout"));
      config.proxy.net_read_timeout = *v;
    }
    if (auto* n = t.get("log_level")) {
      LL_CONFIG_TRY(v, load.String(*n, "proxy.log_level"));
      config.proxy.log_level = *v;
    }
    if (auto* n = t.get("server_version")) {
      LL_CONFIG_TRY(v, load.String(*n, "proxy.server_version"));
      config.proxy.server_version = *v;
    }
    if (auto* n = t.get("max_allowed_packet")) {
      LL_CONFIG_TRY(v, load.Size(*n, "proxy.max_allowed_packet"));
      config.proxy.max_allowed_packet = *v;
    }
    if (auto* n = t.get("compression")) {
      LL_CONFIG_TRY(v, load.Bool(*n, "proxy.compression"));
      config.proxy.compression = *v;
    }
  }

  LL_CONFIG_TRY(listen, table_of("listen"));
  if (*listen != nullptr) {
    const toml::table& t = **listen;
    if (auto s = load.CheckKeys(
            t, "listen", {"tcp", "unix_socket", "unix_socket_mode", "backlog", "require_tls"});
        !s.ok()) {
      return s.error();
    }
    if (auto* n = t.get("tcp")) {
      if (n->is_string()) {
        LL_CONFIG_TRY(a, load.Address(*n, "listen.tcp"));
        config.listen.tcp.push_back(*a);
      } else if (n->is_array()) {
        for (const auto& element : *n->as_array()) {
          LL_CONFIG_TRY(a, load.Address(element, "listen.tcp"));
          config.listen.tcp.push_back(*a);
        }
      } else {
        return load.WrongType(*n, "listen.tcp", "an array of \"HOST:PORT\" strings");
      }
    }
    if (auto* n = t.get("unix_socket")) {
      LL_CONFIG_TRY(v, load.String(*n, "listen.unix_socket"));
      config.listen.unix_socket = *v;
    }
    if (auto* n = t.get("unix_socket_mode")) {
      LL_CONFIG_TRY(v, load.Mode(*n, "listen.unix_socket_mode"));
      config.listen.unix_socket_mode = *v;
    }
    if (auto* n = t.get("backlog")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "listen.backlog", 1, 65535));
      config.listen.backlog = static_cast<int>(*v);
    }
    if (auto* n = t.get("require_tls")) {
      LL_CONFIG_TRY(v, load.Bool(*n, "listen.require_tls"));
      config.listen.require_tls = *v;
    }
  }
  // The default listener is added after the command line's flags (ApplyDefaults).

  // A missing [backend] or address is left for FindProblem.
  LL_CONFIG_TRY(backend, table_of("backend"));
  if (*backend != nullptr) {
    const toml::table& t = **backend;
    if (auto s = load.CheckKeys(
            t, "backend",
            {"address", "max_connections", "connect_timeout", "retry_timeout", "compression"});
        !s.ok()) {
      return s.error();
    }
    if (auto* n = t.get("address")) {
      LL_CONFIG_TRY(a, load.Address(*n, "backend.address"));
      config.backend.address = *a;
    }
    if (auto* n = t.get("max_connections")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "backend.max_connections", 1, 100000));
      config.backend.max_connections = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("connect_timeout")) {
      LL_CONFIG_TRY(v, load.Duration(*n, "backend.connect_timeout"));
      config.backend.connect_timeout = *v;
    }
    if (auto* n = t.get("retry_timeout")) {
      LL_CONFIG_TRY(v, load.Duration(*n, "backend.retry_timeout"));
      config.backend.retry_timeout = *v;
    }
    if (auto* n = t.get("compression")) {
      LL_CONFIG_TRY(v, load.Bool(*n, "backend.compression"));
      config.backend.compression = *v;
    }
  }

  LL_CONFIG_TRY(pool, table_of("pool"));
  if (*pool != nullptr) {
    const toml::table& t = **pool;
    if (auto s = load.CheckKeys(t, "pool",
                                {"mode", "max_connections", "max_user_connections", "min_idle",
                                 "queue_timeout", "keepalive_interval", "check_delay",
                                 "max_idle_time", "max_lifetime", "max_prepared_statements"});
        !s.ok()) {
      return s.error();
    }
    if (auto* n = t.get("mode")) {
      LL_CONFIG_TRY(v, LoadPoolMode(load, *n, "pool.mode"));
      config.pool.mode = *v;
    }
    if (auto* n = t.get("max_connections")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "pool.max_connections", 1, 100000));
      config.pool.max_connections = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("max_user_connections")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "pool.max_user_connections", 0, 100000));
      config.pool.max_user_connections = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("min_idle")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "pool.min_idle", 0, 100000));
      config.pool.min_idle = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("max_prepared_statements")) {
      LL_CONFIG_TRY(v, load.Integer(*n, "pool.max_prepared_statements", 1, 1048576));
      config.pool.max_prepared_statements = static_cast<std::uint32_t>(*v);
    }
    const std::pair<const char*, Milliseconds*> durations[] = {
        {"queue_timeout", &config.pool.queue_timeout},
        {"keepalive_interval", &config.pool.keepalive_interval},
        {"check_delay", &config.pool.check_delay},
        {"max_idle_time", &config.pool.max_idle_time},
        {"max_lifetime", &config.pool.max_lifetime}};
    for (const auto& [name, field] : durations) {
      if (auto* n = t.get(name)) {
        LL_CONFIG_TRY(v, load.Duration(*n, std::string("pool.") + name));
        *field = *v;
      }
    }
  }

  LL_CONFIG_TRY(auth, table_of("auth"));
  if (*auth != nullptr) {
    const toml::table& t = **auth;
    if (auto s = load.CheckKeys(t, "auth", {"user", "password", "cache_ttl"}); !s.ok()) {
      return s.error();
    }
    if (auto* n = t.get("user")) {
      LL_CONFIG_TRY(v, load.String(*n, "auth.user"));
      config.auth.user = *v;
    }
    if (auto* n = t.get("password")) {
      LL_CONFIG_TRY(v, load.String(*n, "auth.password"));
      config.auth.password = *v;
    }
    if (auto* n = t.get("cache_ttl")) {
      LL_CONFIG_TRY(v, load.Duration(*n, "auth.cache_ttl"));
      config.auth.cache_ttl = *v;
    }
  }

  LL_CONFIG_TRY(client_tls, table_of("client_tls"));
  if (*client_tls != nullptr) {
    if (auto s = LoadClientTls(**client_tls, load, &config.client_tls); !s.ok()) return s.error();
  }
  LL_CONFIG_TRY(backend_tls, table_of("backend_tls"));
  if (*backend_tls != nullptr) {
    if (auto s = LoadBackendTls(**backend_tls, load, &config.backend_tls); !s.ok()) {
      return s.error();
    }
  }

  LL_CONFIG_TRY(admin, table_of("admin"));
  if (*admin != nullptr) {
    if (auto s = LoadAdmin(**admin, load, &config.admin); !s.ok()) return s.error();
  }
  LL_CONFIG_TRY(metrics, table_of("metrics"));
  if (*metrics != nullptr) {
    if (auto s = LoadMetrics(**metrics, load, &config.metrics); !s.ok()) return s.error();
  }

  if (const toml::node* users = root.get("users")) {
    const toml::array* entries = users->as_array();
    bool tables = entries != nullptr;
    if (entries != nullptr) {
      for (const auto& element : *entries) tables = tables && element.is_table();
    }
    if (!tables) return load.WrongType(*users, "users", "[[users]] tables");
    for (const auto& element : *entries) {
      const toml::table& t = *element.as_table();
      if (auto s = load.CheckKeys(
              t, "users", {"name", "password", "password_hash", "require_tls", "pool_mode"});
          !s.ok()) {
        return s.error();
      }
      UserSettings user;
      const toml::node* name = t.get("name");
      if (name == nullptr) return load.Fail(&element, "users.name", "missing");
      LL_CONFIG_TRY(n, load.String(*name, "users.name"));
      user.name = *n;
      if (auto* p = t.get("password")) {
        LL_CONFIG_TRY(v, load.String(*p, "users.password"));
        user.password = *v;
      }
      if (auto* h = t.get("password_hash")) {
        LL_CONFIG_TRY(v, load.String(*h, "users.password_hash"));
        user.password_hash = *v;
      }
      if (auto* r = t.get("require_tls")) {
        LL_CONFIG_TRY(v, load.Bool(*r, "users.require_tls"));
        user.require_tls = *v;
      }
      if (auto* m = t.get("pool_mode")) {
        LL_CONFIG_TRY(v, LoadPoolMode(load, *m, "users.pool_mode"));
        user.pool_mode = *v;
      }
      config.users.push_back(std::move(user));
    }
  }
  return config;
}

// The node a problem is about, or its nearest enclosing one that has a line.
const toml::node* Locate(const toml::table& root, std::string path) {
  while (!path.empty()) {
    const toml::node* node = toml::at_path(root, path).node();
    if (node != nullptr && node->source().begin.line > 0) return node;
    const auto cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return nullptr;
}

}  // namespace

Status ValidateProxyConfig(const ProxyConfig& config) {
  if (auto problem = FindProblem(config)) return Error{problem->key + ": " + problem->message};
  return Status();
}

void ApplyDefaults(ProxyConfig& config) {
  if (config.listen.tcp.empty() && config.listen.unix_socket.empty()) {
    config.listen.tcp.push_back(
        SocketAddress{.kind = SocketAddress::Kind::kTcp, .host = "127.0.0.1", .port = 6033});
  }
}

Result<ProxyConfig> ParseProxyConfig(std::string_view toml_text, std::string_view source,
                                     const ConfigOverlay& overlay) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& error) {
    return Error{std::string(source) + ":" + std::to_string(error.source().begin.line) + ": " +
                 std::string(error.description())};
  } catch (const std::exception& error) {  // Allocation failure; nothing else is thrown.
    return Error{std::string(source) + ": " + error.what()};
  }
  const Loader loader(source);
  auto config = Build(root, loader);
  if (!config.ok()) return config.error();
  if (overlay) {
    if (auto applied = overlay(*config); !applied.ok()) return applied.error();
  }
  ApplyDefaults(*config);
  if (auto problem = FindProblem(*config)) {
    const std::string& path = problem->path.empty() ? problem->key : problem->path;
    return loader.Fail(Locate(root, path), problem->key, problem->message);
  }
  return config;
}

Result<ProxyConfig> LoadProxyConfig(const std::string& path, const ConfigOverlay& overlay) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return Error{"cannot read " + path + ": " + std::strerror(errno)};
  std::string text;
  char buffer[8192];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  const int read_errno = std::ferror(file) != 0 ? errno : 0;
  std::fclose(file);
  if (read_errno != 0) return Error{"cannot read " + path + ": " + std::strerror(read_errno)};
  return ParseProxyConfig(text, path, overlay);
}

}  // namespace longlink::config
