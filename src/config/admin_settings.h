// [admin] (the admin console: docs/ADMIN.md) and [metrics] (Prometheus /metrics), as typed
// values; admin_settings.cc reads them from the TOML file and checks them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/socket_address.h"

namespace longlink::config {

// One account of the admin console. Exactly one of password / password_hash is set.
struct AdminUser {
  std::string name = {};
  std::optional<std::string> password = {};       // Plaintext ("" is the empty password).
  std::optional<std::string> password_hash = {};  // "*" + 40 hex digits.
  friend bool operator==(const AdminUser&, const AdminUser&) = default;
};

// [admin]: off unless unix_socket or tcp is set.
struct AdminSettings {
  std::string unix_socket = {};           // Absolute path; empty = none.
  std::uint32_t unix_socket_mode = 0600;  // File mode; only the owner (and root) by default.
  std::vector<SocketAddress> tcp = {};    // Optional TCP listeners; need users.
  std::vector<AdminUser> users = {};
  // On the Unix socket, root and the proxy's own OS user log in as themselves without a
  // password (the peer's credentials, as MariaDB's unix_socket plugin): `mariadb -S PATH -u
  // root` as root, and `longlink diagnose` reading the proxy's figures.
  bool unix_socket_auth = true;
  // Distinct statement shapes SHOW QUERIES keeps (normalized text); the rest are counted in
  // one row. 0: no digests (nothing is normalized on the data path).
  std::uint32_t max_query_digests = 1000;
  bool enabled() const { return !unix_socket.empty() || !tcp.empty(); }
  friend bool operator==(const AdminSettings&, const AdminSettings&) = default;
};

// [metrics]: Prometheus text format over HTTP, GET /metrics. Off unless listen is set.
struct MetricsSettings {
  std::optional<SocketAddress> listen = {};  // "HOST:PORT" (TCP only).
  friend bool operator==(const MetricsSettings&, const MetricsSettings&) = default;
};

}  // namespace longlink::config
