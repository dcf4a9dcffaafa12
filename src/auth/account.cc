#include "auth/account.h"

#include <nlohmann/json.hpp>

namespace longlink::auth {

namespace {

using Json = nlohmann::json;

constexpr std::int64_t kSecondsPerDay = 86400;

// Expired by PASSWORD EXPIRE (last change 0) or by its lifetime (the account's, or the
// global default when the account says -1).
bool Expired(std::optional<std::int64_t> last_changed, std::int64_t lifetime,
             const PrivContext& context) {
  if (!last_changed) return false;
  if (*last_changed == 0) return true;
  if (lifetime < 0) lifetime = context.default_password_lifetime;
  return lifetime > 0 && context.now > *last_changed + lifetime * kSecondsPerDay;
}

Result<std::string> StringField(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return Error{std::string("\"") + name + "\" is not a string"};
  return it->get<std::string>();
}

Result<std::optional<std::int64_t>> IntegerField(const Json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return std::optional<std::int64_t>();
  if (!it->is_number_integer()) return Error{std::string("\"") + name + "\" is not an integer"};
  return std::optional(it->get<std::int64_t>());
}

Result<AccountCredential> CredentialOf(const Json& object) {
  auto plugin = StringField(object, "plugin");
  if (!plugin.ok()) return plugin.error();
  auto auth_string = StringField(object, "authentication_string");
  if (!auth_string.ok()) return auth_string.error();
  return AccountCredential{.plugin = std::move(*plugin), .auth_string = std::move(*auth_string)};
}

}  // namespace

Result<std::optional<Account>> AccountFromGlobalPriv(std::string user, std::string host,
                                                     std::string_view priv,
                                                     const PrivContext& context) {
  const Json json = Json::parse(priv, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return Error{"Priv is not a JSON object"};
  if (auto role = json.find("is_role"); role != json.end() && role->is_boolean() && *role) {
    return std::optional<Account>();
  }
  Account account{.user = std::move(user), .host = std::move(host)};
  auto main = CredentialOf(json);
  if (!main.ok()) return main.error();
  if (auto alternatives = json.find("auth_or"); alternatives != json.end()) {
    if (!alternatives->is_array()) return Error{"\"auth_or\" is not an array"};
    for (const Json& alternative : *alternatives) {
      if (!alternative.is_object()) return Error{"an \"auth_or\" entry is not an object"};
      if (alternative.empty()) {
        account.credentials.push_back(*main);
        continue;
      }
      auto credential = CredentialOf(alternative);
      if (!credential.ok()) return credential.error();
      account.credentials.push_back(std::move(*credential));
    }
  }
  if (account.credentials.empty()) account.credentials.push_back(std::move(*main));

  if (auto locked = json.find("account_locked"); locked != json.end()) {
    if (!locked->is_boolean()) return Error{"\"account_locked\" is not a boolean"};
    account.locked = locked->get<bool>();
  }
  auto last_changed = IntegerField(json, "password_last_changed");
  if (!last_changed.ok()) return last_changed.error();
  auto lifetime = IntegerField(json, "password_lifetime");
  if (!lifetime.ok()) return lifetime.error();
  account.password_expired = Expired(*last_changed, lifetime->value_or(-1), context);
  auto limit = IntegerField(json, "max_user_connections");
  if (!limit.ok()) return limit.error();
  if (limit->value_or(0) > 0) {
    account.max_user_connections = static_cast<std::uint32_t>(
        std::min<std::int64_t>(**limit, std::numeric_limits<std::uint32_t>::max()));
  }
  auto ssl_type = IntegerField(json, "ssl_type");
  if (!ssl_type.ok()) return ssl_type.error();
  switch (ssl_type->value_or(0)) {
    case 0:
      break;
    case 1:
      account.tls.kind = AccountTls::Kind::kAny;
      break;
    case 2:
      account.tls.kind = AccountTls::Kind::kX509;
      break;
    default:  // 3, and anything newer: the strictest the proxy knows.
      account.tls.kind = AccountTls::Kind::kSpecified;
      break;
  }
  const std::pair<const char*, std::string*> tls_fields[] = {
      {"ssl_cipher", &account.tls.cipher},
      {"x509_issuer", &account.tls.issuer},
      {"x509_subject", &account.tls.subject}};
  for (const auto& [name, field] : tls_fields) {
    if (auto value = json.find(name); value != json.end()) {
      if (!value->is_string()) return Error{"\"" + std::string(name) + "\" is not a string"};
      *field = value->get<std::string>();
    }
  }
  return std::optional(std::move(account));
}

Account AccountFromMysqlUser(MysqlUserRow row, const PrivContext& context) {
  Account account{.user = std::move(row.user),
                  .host = std::move(row.host),
                  .credentials = {AccountCredential{.plugin = std::move(row.plugin),
                                                    .auth_string = std::move(row.auth_string)}},
                  .locked = row.locked,
                  .max_user_connections = row.max_user_connections};
  account.password_expired =
      row.password_expired ||
      Expired(row.password_last_changed, row.password_lifetime.value_or(-1), context);
  return account;
}

bool IsPasswordPlugin(std::string_view plugin) {
  return plugin.empty() || plugin == server_plugin::kNativePassword ||
         plugin == server_plugin::kEd25519 || plugin == server_plugin::kCachingSha2Password;
}

}  // namespace longlink::auth
