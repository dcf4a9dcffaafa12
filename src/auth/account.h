// A server account as longlink reads it (for a user [[users]] does not list): its credentials
// in the order the server tries them, and what refuses a login after the password is right.
//
// MariaDB (10.4+) keeps an account in mysql.global_priv as JSON (Priv): "plugin" and
// "authentication_string" (absent: mysql_native_password with no password), "auth_or" (the
// alternatives of IDENTIFIED VIA a OR b, in order; an empty object stands for the top-level
// pair), "account_locked", "password_last_changed" (0: expired by PASSWORD EXPIRE),
// "password_lifetime" (days; -1: the global default_password_lifetime, 0: never),
// "max_user_connections", "is_role". MySQL keeps the same facts as columns of mysql.user.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace longlink::auth {

// Server-side plugin names as the account tables hold them.
namespace server_plugin {
inline constexpr std::string_view kNativePassword = "mysql_native_password";
inline constexpr std::string_view kEd25519 = "ed25519";
inline constexpr std::string_view kCachingSha2Password = "caching_sha2_password";
}  // namespace server_plugin

struct AccountCredential {
  std::string plugin = {};       // As stored; "" is mysql_native_password.
  std::string auth_string = {};  // authentication_string.
  friend bool operator==(const AccountCredential&, const AccountCredential&) = default;
};

// What an account requires of the connection (CREATE USER ... REQUIRE), as MariaDB checks it
// after the password: kAny (REQUIRE SSL) any TLS connection, also on the Unix socket;
// kX509 a client certificate that verified; kSpecified that too, and the cipher, issuer and
// subject given (each when not empty; issuer and subject as OpenSSL's X509_NAME_oneline).
struct AccountTls {
  enum class Kind { kNone, kAny, kX509, kSpecified };
  Kind kind = Kind::kNone;
  std::string cipher = {};
  std::string issuer = {};
  std::string subject = {};
  friend bool operator==(const AccountTls&, const AccountTls&) = default;
};

struct Account {
  std::string user = {};
  std::string host = {};
  std::vector<AccountCredential> credentials = {};  // At least one, in the server's order.
  bool locked = false;
  bool password_expired = false;
  std::uint32_t max_user_connections = 0;  // The account's own limit; 0: none.
  AccountTls tls = {};  // MariaDB's global_priv; MySQL's accounts: not read (kNone).
  friend bool operator==(const Account&, const Account&) = default;
};

// What MariaDB's global variables add when a Priv is read.
struct PrivContext {
  std::int64_t now = 0;                        // UNIX_TIMESTAMP() on the server.
  std::int64_t default_password_lifetime = 0;  // @@default_password_lifetime (days; 0: never).
};

// An account from a mysql.global_priv row; nullopt for a role (it cannot log in). An error
// for JSON that does not parse or has a field of the wrong type.
Result<std::optional<Account>> AccountFromGlobalPriv(std::string user, std::string host,
                                                     std::string_view priv,
                                                     const PrivContext& context);

// An account from MySQL's mysql.user columns (account_locked and password_expired 'Y'/'N',
// password_last_changed as UNIX time, password_lifetime in days or empty for the default).
struct MysqlUserRow {
  std::string user = {};
  std::string host = {};
  std::string plugin = {};
  std::string auth_string = {};
  bool locked = false;
  bool password_expired = false;
  std::optional<std::int64_t> password_last_changed = {};
  std::optional<std::int64_t> password_lifetime = {};
  std::uint32_t max_user_connections = 0;
};
Account AccountFromMysqlUser(MysqlUserRow row, const PrivContext& context);

// True if a credential of `plugin` is a password longlink can check: mysql_native_password,
// ed25519, caching_sha2_password.
bool IsPasswordPlugin(std::string_view plugin);

}  // namespace longlink::auth
