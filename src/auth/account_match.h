// Which account (row of mysql.user) the server applies to a login, by MariaDB 10.11's rules
// (sql/sql_acl.cc: the ACL_USER sort order, find_user_or_anon, compare_hostname): the proxy
// reads the rows of a user name and must pick the one the server will pick for the proxy's own
// connection. Checked against a MariaDB 10.11 server (tests/unit/auth/account_match_test.cc).
//
// Host patterns (the Host column):
//  - '%' matches any run of bytes, '_' exactly one byte, '\' makes the next byte literal (a
//    trailing '\' is itself literal).
//  - "" means '%' (CREATE USER stores '%'; a row with an empty Host behaves exactly as '%').
//  - "a.b.c.d/m.m.m.m" (IPv4 only, non-zero mask, e.g. "10.0.0.0/255.0.0.0") matches an IPv4
//    address whose bits under the mask equal a.b.c.d; the host name is then not tried. A mask
//    of 0.0.0.0, a client without an IPv4 address (IPv6, Unix socket), or any other text makes
//    it an ordinary pattern. The server does not mask a.b.c.d first: "10.0.0.1/255.0.0.0"
//    matches nothing.
//  - Any other pattern matches the connection's host name without regard to ASCII case, or
//    its IP address as text, byte for byte. IPv6 patterns are text too: no IPv6 netmasks, and
//    "0:0:0:0:0:0:0:1" does not match ::1 (the server writes the address as "::1").
//
// Order (the first row in this order whose user and host both match wins; the server never
// falls back to another row when authentication against it fails):
//  1. The more specific host first, by MariaDB's get_magic_sort: no wildcard at all (names,
//     IPs, ip/netmask); then patterns with '_' but no '%', fewer '_' first; then patterns
//     with '%', more characters besides '%' first, then fewer runs of '%', then fewer '_'.
//     Equal so far, the EARLIER first wildcard wins ("127.0._.1" before "127.0.0._", "%t"
//     before "l%").
//  2. On an equally specific host, the row of the login's own user name before an anonymous
//     row (User ''). An anonymous row with a MORE specific host wins over the named row:
//     ''@'localhost' is the account of u logging in through the socket when u has only
//     u@'%'.
//  3. Then the Host text in descending byte order ("localhost" before "127.0.0.1", that before
//     "127.0.0.0/255.255.255.0", "localhost" before "LOCALHOST").
//  4. Full ties ('' and '%' for one user) in the order of `rows` (the server: load order).
//
// Not covered: resolving names (the caller supplies the host name the server uses), roles
// (rows with is_role = 'Y' have Host '' and must not be passed), host patterns longer than
// 127 characters (the server packs the order into a 32-bit number that can wrap there; we
// compare exactly), non-ASCII case folding, and the server's leading blanks or signs in
// ip/netmask numbers.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace longlink::auth {

// How the server sees a connection's origin.
struct ConnectionOrigin {
  // The host name the server uses: "localhost" for a Unix socket and, unless the server runs
  // with skip-name-resolve, for TCP from 127.0.0.1 or ::1 (it does not ask DNS for those);
  // the resolved name of any other address; empty when the server does not resolve names.
  std::string host_name = {};
  // The address as text ("127.0.0.1", "::1"); empty for a Unix socket. Like the server,
  // HostMatches reads an IPv4-mapped or IPv4-compatible IPv6 address (::ffff:10.1.2.3) as the
  // IPv4 address and any other IPv6 address in its canonical form (lower case, "::").
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
// nullopt if none matches (the server then answers "Access denied"). A row applies to `user`
// if its User equals it byte for byte or is '' (anonymous). `rows` may hold other users' rows
// (they are skipped) and is in the order the server returned them.
std::optional<std::size_t> MatchAccount(std::span<const AccountHost> rows, std::string_view user,
                                        const ConnectionOrigin& origin);

}  // namespace longlink::auth
