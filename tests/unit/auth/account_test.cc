// Accounts as the server stores them: mysql.global_priv's Priv JSON (rows read from MariaDB
// 10.11.19 with SELECT User, Host, Priv FROM mysql.global_priv) and MySQL's mysql.user columns.
#include "auth/account.h"

#include <gtest/gtest.h>

namespace longlink::auth {
namespace {

constexpr std::int64_t kNow = 1795994100;  // UNIX_TIMESTAMP() when the rows were read.

struct PrivRow {
  const char* name;
  const char* priv;
  PrivContext context;
  std::optional<Account> expected;  // nullopt: a role.
};

AccountCredential Native(std::string hash) {
  return {.plugin = "mysql_native_password", .auth_string = std::move(hash)};
}

TEST(AccountTest, FromGlobalPriv) {
  const PrivContext now{.now = kNow};
  const std::vector<PrivRow> rows = {
      {"CREATE USER app IDENTIFIED BY ...",
       R"({"access":256,"version_id":101119,"plugin":"mysql_native_password",)"
       R"("authentication_string":"*6C7A370C07660BC788681B3238D93E08BD74303C",)"
       R"("password_last_changed":1795994030})",
       now, Account{.credentials = {Native("*6C7A370C07660BC788681B3238D93E08BD74303C")}}},
      {"root as mariadb-install-db makes it with normal authentication",
       R"({"access":18446744073709551615})", now, Account{.credentials = {AccountCredential{}}}},
      {"ed25519",
       R"({"access":0,"version_id":101119,"plugin":"ed25519","authentication_string":)"
       R"("ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY","password_last_changed":1795994036})",
       now,
       Account{.credentials = {{.plugin = "ed25519",
                                .auth_string = "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY"}}}},
      {"IDENTIFIED VIA ed25519 OR mysql_native_password: auth_or in order, {} the top level",
       R"({"access":0,"version_id":101119,"plugin":"mysql_native_password",)"
       R"("authentication_string":"*F33AE6DD04EF4C7C1D3105568E7FB7C1EE16C937","auth_or":)"
       R"([{"plugin":"ed25519","authentication_string":"GvRmi9ungFjJD9sKjaq/T3CL1LmO2CLpz5I42gnB7Eg"},)"
       R"({}],"password_last_changed":1795994036})",
       now,
       Account{.credentials = {{.plugin = "ed25519",
                                .auth_string = "GvRmi9ungFjJD9sKjaq/T3CL1LmO2CLpz5I42gnB7Eg"},
                               Native("*F33AE6DD04EF4C7C1D3105568E7FB7C1EE16C937")}}},
      {"ACCOUNT LOCK",
       R"({"access":0,"plugin":"mysql_native_password","authentication_string":"*B69027D44F6E5EDC07F1AEAD1477967B16F28227",)"
       R"("account_locked":true,"password_last_changed":1795994036})",
       now,
       Account{.credentials = {Native("*B69027D44F6E5EDC07F1AEAD1477967B16F28227")},
               .locked = true}},
      {"PASSWORD EXPIRE: last changed 0",
       R"({"access":0,"plugin":"mysql_native_password","authentication_string":"*B69027D44F6E5EDC07F1AEAD1477967B16F28227",)"
       R"("password_last_changed":0,"password_lifetime":-1})",
       now,
       Account{.credentials = {Native("*B69027D44F6E5EDC07F1AEAD1477967B16F28227")},
               .password_expired = true}},
      {"MAX_USER_CONNECTIONS 1",
       R"({"access":0,"plugin":"mysql_native_password","authentication_string":"",)"
       R"("max_user_connections":1,"password_last_changed":1795994036})",
       now, Account{.credentials = {Native("")}, .max_user_connections = 1}},
      {"PASSWORD EXPIRE INTERVAL 1 DAY, changed two days ago",
       R"({"plugin":"mysql_native_password","password_last_changed":1795821300,)"
       R"("password_lifetime":1})",
       now, Account{.credentials = {Native("")}, .password_expired = true}},
      {"PASSWORD EXPIRE INTERVAL 3 DAY, changed two days ago",
       R"({"plugin":"mysql_native_password","password_last_changed":1795821300,)"
       R"("password_lifetime":3})",
       now, Account{.credentials = {Native("")}}},
      {"the global default_password_lifetime (1 day) applies with -1",
       R"({"plugin":"mysql_native_password","password_last_changed":1795821300,)"
       R"("password_lifetime":-1})",
       PrivContext{.now = kNow, .default_password_lifetime = 1},
       Account{.credentials = {Native("")}, .password_expired = true}},
      {"PASSWORD EXPIRE NEVER overrides the global default",
       R"({"plugin":"mysql_native_password","password_last_changed":1795821300,)"
       R"("password_lifetime":0})",
       PrivContext{.now = kNow, .default_password_lifetime = 1},
       Account{.credentials = {Native("")}}},
      {"REQUIRE SSL (as MariaDB 10.11 writes it)",
       R"({"access":0,"version_id":101119,"plugin":"mysql_native_password",)"
       R"("authentication_string":"*7B9EBEED26AA52ED10C0F549FA863F13C39E0209","ssl_type":1,)"
       R"("ssl_cipher":"","x509_issuer":"","x509_subject":"","password_last_changed":1796005629})",
       now,
       Account{.credentials = {Native("*7B9EBEED26AA52ED10C0F549FA863F13C39E0209")},
               .tls = {.kind = AccountTls::Kind::kAny}}},
      {"REQUIRE X509",
       R"({"access":0,"version_id":101119,"plugin":"mysql_native_password",)"
       R"("authentication_string":"","ssl_type":2,"ssl_cipher":"","x509_issuer":"",)"
       R"("x509_subject":"","password_last_changed":1796005629})",
       now, Account{.credentials = {Native("")}, .tls = {.kind = AccountTls::Kind::kX509}}},
      {"REQUIRE ISSUER ... AND SUBJECT ... AND CIPHER ...",
       R"({"access":0,"version_id":101119,"plugin":"mysql_native_password",)"
       R"("authentication_string":"","ssl_type":3,"ssl_cipher":"TLS_AES_256_GCM_SHA384",)"
       R"("x509_issuer":"/CN=Test CA","x509_subject":"/CN=app","password_last_changed":1796005629})",
       now,
       Account{.credentials = {Native("")},
               .tls = {.kind = AccountTls::Kind::kSpecified,
                       .cipher = "TLS_AES_256_GCM_SHA384",
                       .issuer = "/CN=Test CA",
                       .subject = "/CN=app"}}},
      {"a role", R"({"access":0,"is_role":true})", now, std::nullopt},
  };
  for (const PrivRow& row : rows) {
    auto account = AccountFromGlobalPriv("u", "%", row.priv, row.context);
    ASSERT_TRUE(account.ok()) << row.name << ": " << account.error().message;
    std::optional<Account> expected = row.expected;
    if (expected) {
      expected->user = "u";
      expected->host = "%";
    }
    EXPECT_EQ(*account, expected) << row.name;
  }
}

TEST(AccountTest, FromGlobalPrivRejectsWhatIsNotAPriv) {
  const std::vector<std::pair<const char*, const char*>> rows = {
      {"not JSON", "Priv is not a JSON object"},
      {"[1]", "Priv is not a JSON object"},
      {R"({"plugin":1})", "\"plugin\" is not a string"},
      {R"({"auth_or":{}})", "\"auth_or\" is not an array"},
      {R"({"auth_or":[1]})", "an \"auth_or\" entry is not an object"},
      {R"({"account_locked":"Y"})", "\"account_locked\" is not a boolean"},
      {R"({"password_last_changed":"0"})", "\"password_last_changed\" is not an integer"},
      {R"({"ssl_type":"1"})", "\"ssl_type\" is not an integer"},
      {R"({"ssl_type":1,"x509_subject":2})", "\"x509_subject\" is not a string"},
  };
  for (const auto& [priv, error] : rows) {
    auto account = AccountFromGlobalPriv("u", "%", priv, PrivContext{.now = kNow});
    ASSERT_FALSE(account.ok()) << priv;
    EXPECT_EQ(account.error().message, error) << priv;
  }
}

TEST(AccountTest, FromMysqlUser) {
  const PrivContext now{.now = kNow, .default_password_lifetime = 0};
  Account account = AccountFromMysqlUser(MysqlUserRow{.user = "u",
                                                      .host = "10.%",
                                                      .plugin = "caching_sha2_password",
                                                      .auth_string = "$A$005$salt",
                                                      .locked = true,
                                                      .password_last_changed = kNow - 10,
                                                      .max_user_connections = 4},
                                         now);
  EXPECT_EQ(
      account,
      (Account{.user = "u",
               .host = "10.%",
               .credentials = {{.plugin = "caching_sha2_password", .auth_string = "$A$005$salt"}},
               .locked = true,
               .max_user_connections = 4}));
  EXPECT_TRUE(AccountFromMysqlUser(MysqlUserRow{.password_expired = true}, now).password_expired);
  EXPECT_TRUE(
      AccountFromMysqlUser(
          MysqlUserRow{.password_last_changed = kNow - 3 * 86400, .password_lifetime = 2}, now)
          .password_expired);
}

TEST(AccountTest, PasswordPlugins) {
  for (const char* plugin : {"", "mysql_native_password", "ed25519", "caching_sha2_password"}) {
    EXPECT_TRUE(IsPasswordPlugin(plugin)) << plugin;
  }
  for (const char* plugin : {"unix_socket", "pam", "gssapi", "sha256_password", "parsec"}) {
    EXPECT_FALSE(IsPasswordPlugin(plugin)) << plugin;
  }
}

}  // namespace
}  // namespace longlink::auth
