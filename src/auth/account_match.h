// Which account (row of mysql.user) the server applies to a login, by MariaDB's rules
// (sql/sql_acl.cc: the ACL_USER sort order and compare_hostname): the proxy reads the rows of
// a user name and must pick the one the server will pick for the proxy's own connection.
//
// Host patterns: '%' and '_' wildcards (with '\' escaping), "" meaning '%', "ip/netmask"
// (e.g. "10.0.0.0/255.0.0.0"), and "localhost", which a Unix-socket connection carries as
// its host name. A pattern matches the connection's host name (when the server resolved one)
// or its IP address. Rows are tried in the server's order: more specific hosts first (no
// wildcard before a wildcard, a later first wildcard before an earlier one), a named user
// before the anonymous user '' (which matches any name), and on ties the order the server
// loaded them in. The first row whose user and host both match wins, and the server never
// falls back to another row when authentication against it fails.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace longlink::auth {

// How the server sees a connection's origin.
struct ConnectionOrigin {
  // The host name the server uses: "localhost" for a Unix socket, the resolved name of the
  // address for TCP, or empty when the server does not resolve names (skip-name-resolve).
  std::string host_name = {};
  // The address as text ("127.0.0.1", "::1"); empty for a Unix socket.
  std::string ip = {};
};

// One row as read: the User and Host columns.
struct AccountHost {
  std::string user = {};
  std::string host = {};
};

// True if `pattern` (a Host column) matches `origin`.
bool HostMatches(std::string_view pattern, const ConnectionOrigin& origin);

// The index in `rows` of the row the server applies to `user` logging in from `origin`, or
// nullopt if none matches (the server then answers "Access denied"). `rows` may hold other
// users' rows (they are skipped) and is in the order the server returned them.
std::optional<std::size_t> MatchAccount(std::span<const AccountHost> rows, std::string_view user,
                                        const ConnectionOrigin& origin);

}  // namespace longlink::auth
