#include "config/admin_settings.h"

#include <set>

#include "auth/native_password.h"
#include "config/admin_settings_loader.h"

namespace longlink::config {

namespace {

Status LoadAdminUser(const toml::node& element, std::size_t index, const Loader& load,
                     AdminUser* user) {
  const std::string where = "admin.users[" + std::to_string(index) + "]";
  const toml::table* t = element.as_table();
  if (t == nullptr) {
    return load.WrongType(element, "admin.users", "a table { name = ..., password = ... }");
  }
  if (auto s = load.CheckKeys(*t, "admin.users", {"name", "password", "password_hash"}); !s.ok()) {
    return s;
  }
  const toml::node* name = t->get("name");
  if (name == nullptr) return load.Fail(&element, where + ".name", "missing");
  LL_CONFIG_TRY(n, load.String(*name, "admin.users.name"));
  user->name = *n;
  if (auto* p = t->get("password")) {
    LL_CONFIG_TRY(v, load.String(*p, "admin.users.password"));
    user->password = *v;
  }
  if (auto* h = t->get("password_hash")) {
    LL_CONFIG_TRY(v, load.String(*h, "admin.users.password_hash"));
    user->password_hash = *v;
  }
  return Status();
}

}  // namespace

Status LoadAdmin(const toml::table& t, const Loader& load, AdminSettings* settings) {
  if (auto s = load.CheckKeys(t, "admin",
                              {"unix_socket", "unix_socket_mode", "tcp", "users",
                               "unix_socket_auth", "max_query_digests"});
      !s.ok()) {
    return s;
  }
  if (auto* n = t.get("unix_socket")) {
    LL_CONFIG_TRY(v, load.String(*n, "admin.unix_socket"));
    settings->unix_socket = *v;
  }
  if (auto* n = t.get("unix_socket_mode")) {
    LL_CONFIG_TRY(v, load.Mode(*n, "admin.unix_socket_mode"));
    settings->unix_socket_mode = *v;
  }
  if (auto* n = t.get("tcp")) {
    if (n->is_string()) {
      LL_CONFIG_TRY(a, load.Address(*n, "admin.tcp"));
      settings->tcp.push_back(*a);
    } else if (n->is_array()) {
      for (const auto& element : *n->as_array()) {
        LL_CONFIG_TRY(a, load.Address(element, "admin.tcp"));
        settings->tcp.push_back(*a);
      }
    } else {
      return load.WrongType(*n, "admin.tcp", "an array of \"HOST:PORT\" strings");
    }
  }
  if (auto* n = t.get("users")) {
    const toml::array* entries = n->as_array();
    if (entries == nullptr) {
      return load.WrongType(*n, "admin.users", "an array of { name = ..., password = ... }");
    }
    for (std::size_t i = 0; i < entries->size(); ++i) {
      AdminUser user;
      if (auto s = LoadAdminUser(*entries->get(i), i, load, &user); !s.ok()) return s;
      settings->users.push_back(std::move(user));
    }
  }
  if (auto* n = t.get("unix_socket_auth")) {
    LL_CONFIG_TRY(v, load.Bool(*n, "admin.unix_socket_auth"));
    settings->unix_socket_auth = *v;
  }
  if (auto* n = t.get("max_query_digests")) {
    LL_CONFIG_TRY(v, load.Integer(*n, "admin.max_query_digests", 0, 1000000));
    settings->max_query_digests = static_cast<std::uint32_t>(*v);
  }
  return Status();
}

Status LoadMetrics(const toml::table& t, const Loader& load, MetricsSettings* settings) {
  if (auto s = load.CheckKeys(t, "metrics", {"listen"}); !s.ok()) return s;
  if (auto* n = t.get("listen")) {
    LL_CONFIG_TRY(a, load.Address(*n, "metrics.listen"));
    settings->listen = *a;
  }
  return Status();
}

std::optional<ConfigProblem> CheckAdmin(const AdminSettings& settings) {
  if (!settings.unix_socket.empty() && settings.unix_socket.front() != '/') {
    return ConfigProblem{"admin.unix_socket",
                         Quoted(settings.unix_socket) + " must be an absolute path"};
  }
  if (settings.unix_socket.size() > 107) {
    return ConfigProblem{"admin.unix_socket",
                         Quoted(settings.unix_socket) + " is longer than 107 bytes"};
  }
  if (settings.unix_socket_mode > 0777) {
    return ConfigProblem{"admin.unix_socket_mode", "must be a file mode, at most 0777"};
  }
  for (const SocketAddress& address : settings.tcp) {
    if (address.kind != SocketAddress::Kind::kTcp) {
      return ConfigProblem{"admin.tcp", Quoted(address.ToString()) +
                                            " is a path: use admin.unix_socket for a socket"};
    }
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < settings.users.size(); ++i) {
    const AdminUser& user = settings.users[i];
    const std::string entry = "admin.users[" + std::to_string(i) + "]";
    if (user.name.empty()) return ConfigProblem{"admin.users.name", "must not be empty", entry};
    const std::string who = "admin user " + Quoted(user.name);
    if (!names.insert(user.name).second) {
      return ConfigProblem{"admin.users.name", who + " is listed twice", entry + ".name"};
    }
    if (user.password && user.password_hash) {
      return ConfigProblem{"admin.users.password",
                           who + " has both password and password_hash; keep one", entry};
    }
    if (!user.password && !user.password_hash) {
      return ConfigProblem{"admin.users.password", who + " needs password or password_hash", entry};
    }
    if (user.password_hash && !user.password_hash->empty()) {
      auto parsed = auth::ParseNativePasswordHash(*user.password_hash);
      if (!parsed.ok()) {
        return ConfigProblem{"admin.users.password_hash", who + ": " + parsed.error().message,
                             entry + ".password_hash"};
      }
    }
  }
  if (!settings.tcp.empty() && settings.users.empty()) {
    return ConfigProblem{"admin.tcp",
                         "a TCP admin listener needs admin.users (peer credentials exist only "
                         "on the Unix socket)"};
  }
  if (!settings.unix_socket.empty() && settings.users.empty() && !settings.unix_socket_auth) {
    return ConfigProblem{"admin.users",
                         "nobody can log in to the admin console: add users or set "
                         "unix_socket_auth = true"};
  }
  return std::nullopt;
}

std::optional<ConfigProblem> CheckMetrics(const MetricsSettings& settings) {
  if (settings.listen && settings.listen->kind != SocketAddress::Kind::kTcp) {
    return ConfigProblem{"metrics.listen", "must be HOST:PORT (Prometheus scrapes over TCP)"};
  }
  return std::nullopt;
}

}  // namespace longlink::config
