#include "config/proxy_config.h"

#include <toml++/toml.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "auth/native_password.h"

namespace longlink::config {

std::string SocketAddress::ToString() const {
  if (kind == Kind::kUnix) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<SocketAddress> ParseSocketAddress(std::string_view text) {
  SocketAddress address;
  if (text.empty()) return Error{"empty address"};
  if (text.front() == '/') {
    address.kind = SocketAddress::Kind::kUnix;
    address.path = std::string(text);
    return address;
  }
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Error{"'" + std::string(text) + "': expected [IPv6]:PORT"};
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Error{"'" + std::string(text) +
                   "': expected HOST:PORT, [IPv6]:PORT or an absolute socket path"};
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Error{"'" + std::string(text) + "': write an IPv6 address in brackets: [" +
                   std::string(host) + "]:" + std::string(port)};
    }
  }
  if (host.empty()) return Error{"'" + std::string(text) + "': the host is missing"};
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return Error{"'" + std::string(text) + "': the port must be a number from 1 to 65535"};
  }
  address.host = std::string(host);
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

namespace {

// Errors carry "source:line: key: message".
class Loader {
 public:
  explicit Loader(std::string_view source) : source_(source) {}

  Error Fail(const toml::node* node, std::string_view key, std::string_view message) const {
    std::string where(source_);
    if (node != nullptr && node->source().begin.line > 0) {
      where += ":" + std::to_string(node->source().begin.line);
    }
    return Error{where + ": " + std::string(key) + ": " + std::string(message)};
  }

  // Unknown keys are errors.
  Status CheckKeys(const toml::table& table, std::string_view prefix,
                   std::initializer_list<std::string_view> known) const {
    for (const auto& [name, node] : table) {
      bool found = false;
      for (auto k : known) found = found || name.str() == k;
      if (!found) {
        std::string key = prefix.empty() ? std::string(name.str())
                                         : std::string(prefix) + "." + std::string(name.str());
        return Fail(&node, key, "unknown key");
      }
    }
    return Status();
  }

  Result<std::string> String(const toml::node& node, std::string_view key) const {
    if (auto value = node.value<std::string>(); value && node.is_string()) return *value;
    return Fail(&node, key, "expected a string");
  }

  Result<std::int64_t> Integer(const toml::node& node, std::string_view key, std::int64_t min,
                               std::int64_t max) const {
    if (!node.is_integer()) return Fail(&node, key, "expected an integer");
    const std::int64_t value = *node.value<std::int64_t>();
    if (value < min || value > max) {
      return Fail(&node, key,
                  "must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " +
                      std::to_string(value));
    }
    return value;
  }

  Result<Milliseconds> Duration(const toml::node& node, std::string_view key) const {
    std::int64_t ms = -1;
    if (node.is_integer()) {
      ms = *node.value<std::int64_t>() * 1000;
    } else if (node.is_string()) {
      const std::string text = *node.value<std::string>();
      std::int64_t value = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
      if (error == std::errc() && end != text.data()) {
        if (unit == "ms") ms = value;
        if (unit == "s" || unit.empty()) ms = value * 1000;
        if (unit == "m") ms = value * 60000;
        if (unit == "h") ms = value * 3600000;
      }
      if (ms < 0) {
        return Fail(&node, key, "'" + text + "' is not a duration (examples: 500ms, 5s, 2m, 1h)");
      }
    } else {
      return Fail(&node, key, "expected a duration: a string such as \"5s\" or seconds");
    }
    if (ms <= 0) return Fail(&node, key, "must be greater than zero");
    return Milliseconds(ms);
  }

  Result<std::uint64_t> Size(const toml::node& node, std::string_view key) const {
    if (node.is_integer()) {
      const std::int64_t value = *node.value<std::int64_t>();
      if (value < 0) return Fail(&node, key, "must not be negative");
      return static_cast<std::uint64_t>(value);
    }
    if (!node.is_string()) return Fail(&node, key, "expected a size: bytes or \"16MiB\"");
    const std::string text = *node.value<std::string>();
    std::uint64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    std::uint64_t scale = 0;
    if (unit.empty() || unit == "B") scale = 1;
    if (unit == "K" || unit == "KiB") scale = 1ULL << 10;
    if (unit == "M" || unit == "MiB") scale = 1ULL << 20;
    if (unit == "G" || unit == "GiB") scale = 1ULL << 30;
    if (error != std::errc() || end == text.data() || scale == 0) {
      return Fail(&node, key,
                  "'" + text + "' is not a size (examples: 1024, \"64KiB\", \"16MiB\")");
    }
    return value * scale;
  }

  Result<SocketAddress> Address(const toml::node& node, std::string_view key) const {
    auto text = String(node, key);
    if (!text.ok()) return text.error();
    auto address = ParseSocketAddress(*text);
    if (!address.ok()) return Fail(&node, key, address.error().message);
    return *address;
  }

 private:
  std::string_view source_;
};

#define LL_TRY(var, expr) \
  auto var = (expr);      \
  if (!var.ok()) return var.error();

Result<ProxyConfig> Build(const toml::table& root, const Loader& load) {
  ProxyConfig config;
  if (auto s = load.CheckKeys(root, "", {"proxy", "listen", "backend", "pool", "users"}); !s.ok()) {
    return s.error();
  }
  auto table_of = [&](std::string_view name) -> Result<const toml::table*> {
    const toml::node* node = root.get(name);
    if (node == nullptr) return static_cast<const toml::table*>(nullptr);
    if (!node->is_table())
      return load.Fail(node, name, "expected a table [" + std::string(name) + "]");
    return node->as_table();
  };

  LL_TRY(proxy, table_of("proxy"));
  if (*proxy != nullptr) {
    const toml::table& t = **proxy;
    if (auto s = load.CheckKeys(t, "proxy",
                                {"workers", "max_client_connections", "handshake_timeout",
                                 "log_level", "server_version", "max_allowed_packet"});
        !s.ok()) {
      return s.error();
    }
    if (auto* n = t.get("workers")) {
      LL_TRY(v, load.Integer(*n, "proxy.workers", 0, 1024));
      config.proxy.workers = static_cast<unsigned>(*v);
    }
    if (auto* n = t.get("max_client_connections")) {
      LL_TRY(v, load.Integer(*n, "proxy.max_client_connections", 1, 1000000));
      config.proxy.max_client_connections = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("handshake_timeout")) {
      LL_TRY(v, load.Duration(*n, "proxy.handshake_timeout"));
      config.proxy.handshake_timeout = *v;
    }
    if (auto* n = t.get("log_level")) {
      LL_TRY(v, load.String(*n, "proxy.log_level"));
      if (*v != "error" && *v != "warning" && *v != "info" && *v != "debug") {
        return load.Fail(n, "proxy.log_level",
                         "'" + *v + "' is not one of error, warning, info, debug");
      }
      config.proxy.log_level = *v;
    }
    if (auto* n = t.get("server_version")) {
      LL_TRY(v, load.String(*n, "proxy.server_version"));
      config.proxy.server_version = *v;
    }
    if (auto* n = t.get("max_allowed_packet")) {
      LL_TRY(v, load.Size(*n, "proxy.max_allowed_packet"));
      if (*v > (1ULL << 30)) return load.Fail(n, "proxy.max_allowed_packet", "at most 1GiB");
      config.proxy.max_allowed_packet = *v;
    }
  }

  LL_TRY(listen, table_of("listen"));
  if (*listen != nullptr) {
    const toml::table& t = **listen;
    if (auto s = load.CheckKeys(t, "listen", {"tcp", "unix_socket", "unix_socket_mode", "backlog"});
        !s.ok()) {
      return s.error();
    }
    if (auto* n = t.get("tcp")) {
      if (n->is_string()) {
        LL_TRY(a, load.Address(*n, "listen.tcp"));
        config.listen.tcp.push_back(*a);
      } else if (n->is_array()) {
        for (const auto& element : *n->as_array()) {
          LL_TRY(a, load.Address(element, "listen.tcp"));
          config.listen.tcp.push_back(*a);
        }
      } else {
        return load.Fail(n, "listen.tcp", "expected an array of \"HOST:PORT\" strings");
      }
      for (const auto& a : config.listen.tcp) {
        if (a.kind != SocketAddress::Kind::kTcp) {
          return load.Fail(n, "listen.tcp", "'" + a.path + "' is a path: use listen.unix_socket");
        }
      }
    }
    if (auto* n = t.get("unix_socket")) {
      LL_TRY(v, load.String(*n, "listen.unix_socket"));
      config.listen.unix_socket = *v;
    }
    if (auto* n = t.get("unix_socket_mode")) {
      if (n->is_integer()) {
        LL_TRY(v, load.Integer(*n, "listen.unix_socket_mode", 0, 0777));
        config.listen.unix_socket_mode = static_cast<std::uint32_t>(*v);
      } else {
        LL_TRY(v, load.String(*n, "listen.unix_socket_mode"));
        unsigned mode = 0;
        auto [end, error] = std::from_chars(v->data(), v->data() + v->size(), mode, 8);
        if (v->empty() || error != std::errc() || end != v->data() + v->size() || mode > 0777) {
          return load.Fail(n, "listen.unix_socket_mode",
                           "'" + *v + "' is not an octal mode like \"0660\"");
        }
        config.listen.unix_socket_mode = mode;
      }
    }
    if (auto* n = t.get("backlog")) {
      LL_TRY(v, load.Integer(*n, "listen.backlog", 1, 65535));
      config.listen.backlog = static_cast<int>(*v);
    }
  }
  if (config.listen.tcp.empty() && config.listen.unix_socket.empty()) {
    config.listen.tcp.push_back(
        SocketAddress{.kind = SocketAddress::Kind::kTcp, .host = "127.0.0.1", .port = 6033});
  }

  LL_TRY(backend, table_of("backend"));
  if (*backend == nullptr)
    return Error{std::string("backend.address: missing (the server to pool connections to)")};
  {
    const toml::table& t = **backend;
    if (auto s = load.CheckKeys(t, "backend", {"address", "connect_timeout"}); !s.ok()) {
      return s.error();
    }
    const toml::node* n = t.get("address");
    if (n == nullptr) return load.Fail(backend.value(), "backend.address", "missing");
    LL_TRY(a, load.Address(*n, "backend.address"));
    config.backend.address = *a;
    if (auto* c = t.get("connect_timeout")) {
      LL_TRY(v, load.Duration(*c, "backend.connect_timeout"));
      config.backend.connect_timeout = *v;
    }
  }

  LL_TRY(pool, table_of("pool"));
  if (*pool != nullptr) {
    const toml::table& t = **pool;
    if (auto s = load.CheckKeys(t, "pool", {"max_connections", "min_idle", "queue_timeout"});
        !s.ok()) {
      return s.error();
    }
    if (auto* n = t.get("max_connections")) {
      LL_TRY(v, load.Integer(*n, "pool.max_connections", 1, 100000));
      config.pool.max_connections = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("min_idle")) {
      LL_TRY(v, load.Integer(*n, "pool.min_idle", 0, 100000));
      config.pool.min_idle = static_cast<std::uint32_t>(*v);
    }
    if (auto* n = t.get("queue_timeout")) {
      LL_TRY(v, load.Duration(*n, "pool.queue_timeout"));
      config.pool.queue_timeout = *v;
    }
  }

  if (const toml::node* users = root.get("users")) {
    if (!users->is_array_of_tables()) {
      return load.Fail(users, "users", "expected [[users]] tables");
    }
    for (const auto& element : *users->as_array()) {
      const toml::table& t = *element.as_table();
      if (auto s = load.CheckKeys(t, "users", {"name", "password", "password_hash"}); !s.ok()) {
        return s.error();
      }
      UserSettings user;
      const toml::node* name = t.get("name");
      if (name == nullptr) return load.Fail(&element, "users.name", "missing");
      LL_TRY(n, load.String(*name, "users.name"));
      user.name = *n;
      if (auto* p = t.get("password")) {
        LL_TRY(v, load.String(*p, "users.password"));
        user.password = *v;
      }
      if (auto* h = t.get("password_hash")) {
        LL_TRY(v, load.String(*h, "users.password_hash"));
        user.password_hash = *v;
      }
      if (user.password && user.password_hash) {
        return load.Fail(&element, "users.password",
                         "user '" + user.name + "' has both password and password_hash; keep one");
      }
      if (!user.password && !user.password_hash) {
        return load.Fail(&element, "users.password",
                         "user '" + user.name + "' needs password or password_hash");
      }
      if (user.password_hash && !user.password_hash->empty()) {
        auto parsed = auth::ParseNativePasswordHash(*user.password_hash);
        if (!parsed.ok()) return load.Fail(&element, "users.password_hash", parsed.error().message);
      }
      config.users.push_back(std::move(user));
    }
  }
  return config;
}

#undef LL_TRY

}  // namespace

Status ValidateProxyConfig(const ProxyConfig& config) {
  if (config.backend.address.kind == SocketAddress::Kind::kTcp &&
      config.backend.address.port == 0) {
    return Error{"backend.address: missing (the server to pool connections to)"};
  }
  if (config.users.empty()) {
    return Error{"users: no [[users]] entry: list the users clients log in as"};
  }
  std::set<std::string> names;
  for (const auto& user : config.users) {
    if (user.name.empty()) return Error{"users.name: must not be empty"};
    if (!names.insert(user.name).second) {
      return Error{"users.name: user '" + user.name + "' is listed twice"};
    }
    if (user.password_hash && !user.password_hash->empty()) {
      auto parsed = auth::ParseNativePasswordHash(*user.password_hash);
      if (!parsed.ok()) {
        return Error{"users.password_hash: user '" + user.name + "': " + parsed.error().message};
      }
    }
  }
  if (config.pool.max_connections < 1) {
    return Error{"pool.max_connections: must be at least 1, got 0"};
  }
  if (config.pool.min_idle > config.pool.max_connections) {
    return Error{"pool.min_idle: " + std::to_string(config.pool.min_idle) +
                 " is more than pool.max_connections (" +
                 std::to_string(config.pool.max_connections) + ")"};
  }
  if (!config.listen.unix_socket.empty() && config.listen.unix_socket.front() != '/') {
    return Error{"listen.unix_socket: '" + config.listen.unix_socket +
                 "' must be an absolute path"};
  }
  if (config.proxy.workers > 1024) return Error{"proxy.workers: at most 1024"};
  return Status();
}

Result<ProxyConfig> ParseProxyConfig(std::string_view toml_text, std::string_view source) {
  toml::table parsed;
  try {
    parsed = toml::parse(toml_text, source);
  } catch (const toml::parse_error& error) {
    return Error{std::string(source) + ":" + std::to_string(error.source().begin.line) + ": " +
                 std::string(error.description())};
  }
  Loader loader(source);
  auto config = Build(parsed, loader);
  if (!config.ok()) return config.error();
  auto valid = ValidateProxyConfig(*config);
  if (!valid.ok()) return Error{std::string(source) + ": " + valid.error().message};
  return config;
}

Result<ProxyConfig> LoadProxyConfig(const std::string& path) {
  std::ifstream file(path);
  if (!file) return Error{"cannot read " + path + ": " + std::strerror(errno)};
  std::stringstream text;
  text << file.rdbuf();
  return ParseProxyConfig(text.str(), path);
}

}  // namespace longlink::config
