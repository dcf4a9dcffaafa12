#include "config/tls_settings.h"

#include <cctype>
#include <utility>

#include "config/tls_settings_loader.h"

namespace longlink::config {

std::optional<TlsVersion> ParseTlsVersion(std::string_view text) {
  std::string lower;
  for (const char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.starts_with("tlsv")) {
    lower.erase(0, 4);
  } else if (lower.starts_with("tls")) {
    lower.erase(0, 3);
  }
  if (lower == "1.0" || lower == "1") return TlsVersion::kTls1_0;
  if (lower == "1.1") return TlsVersion::kTls1_1;
  if (lower == "1.2") return TlsVersion::kTls1_2;
  if (lower == "1.3") return TlsVersion::kTls1_3;
  return std::nullopt;
}

std::string_view TlsVersionName(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls1_0:
      return "TLSv1";
    case TlsVersion::kTls1_1:
      return "TLSv1.1";
    case TlsVersion::kTls1_2:
      return "TLSv1.2";
    case TlsVersion::kTls1_3:
      return "TLSv1.3";
  }
  return "?";
}

namespace {

// The keys both tables share.
struct CommonTls {
  std::string* cert;
  std::string* key;
  TlsVersion* min_version;
  std::optional<TlsVersion>* max_version;
  std::string* ciphers;
  std::string* ciphersuites;
};

Status LoadVersion(const toml::node& node, const Loader& load, const std::string& key,
                   TlsVersion* version) {
  LL_CONFIG_TRY(text, load.String(node, key));
  const auto parsed = ParseTlsVersion(*text);
  if (!parsed) {
    return load.Fail(&node, key,
                     Quoted(*text) + " is not a TLS version (TLSv1.2 or TLSv1.3; TLSv1, TLSv1.1)");
  }
  *version = *parsed;
  return Status();
}

Status LoadCommon(const toml::table& table, const Loader& load, std::string_view prefix,
                  const CommonTls& out) {
  const std::string p(prefix);
  const std::pair<const char*, std::string*> strings[] = {{"cert", out.cert},
                                                          {"key", out.key},
                                                          {"ciphers", out.ciphers},
                                                          {"ciphersuites", out.ciphersuites}};
  for (const auto& [name, field] : strings) {
    if (const toml::node* n = table.get(name)) {
      LL_CONFIG_TRY(v, load.String(*n, p + "." + name));
      *field = *v;
    }
  }
  if (const toml::node* n = table.get("min_version")) {
    if (auto s = LoadVersion(*n, load, p + ".min_version", out.min_version); !s.ok()) return s;
  }
  if (const toml::node* n = table.get("max_version")) {
    TlsVersion version{};
    if (auto s = LoadVersion(*n, load, p + ".max_version", &version); !s.ok()) return s;
    *out.max_version = version;
  }
  return Status();
}

std::optional<ConfigProblem> CheckCommon(std::string_view prefix, const std::string& cert,
                                         const std::string& key, TlsVersion min_version,
                                         const std::optional<TlsVersion>& max_version) {
  const std::string p(prefix);
  if (cert.empty() != key.empty()) {
    return ConfigProblem{p + (cert.empty() ? ".cert" : ".key"),
                         cert.empty() ? "missing: key is set, name its certificate too"
                                      : "missing: cert is set, name its private key too"};
  }
  if (max_version && *max_version < min_version) {
    return ConfigProblem{p + ".max_version", std::string(TlsVersionName(*max_version)) +
                                                 " is lower than min_version (" +
                                                 std::string(TlsVersionName(min_version)) + ")"};
  }
  return std::nullopt;
}

}  // namespace

Status LoadClientTls(const toml::table& table, const Loader& load, ClientTlsSettings* settings) {
  if (auto s = load.CheckKeys(
          table, "client_tls",
          {"cert", "key", "ca", "min_version", "max_version", "ciphers", "ciphersuites"});
      !s.ok()) {
    return s;
  }
  if (const toml::node* n = table.get("ca")) {
    LL_CONFIG_TRY(v, load.String(*n, "client_tls.ca"));
    settings->ca = *v;
  }
  return LoadCommon(table, load, "client_tls",
                    CommonTls{&settings->cert, &settings->key, &settings->min_version,
                              &settings->max_version, &settings->ciphers, &settings->ciphersuites});
}

Status LoadBackendTls(const toml::table& table, const Loader& load, BackendTlsSettings* settings) {
  if (auto s = load.CheckKeys(
          table, "backend_tls",
          {"enabled", "ca", "ca_dir", "verify", "server_name", "cert", "key", "min_version",
           "max_version", "ciphers", "ciphersuites", "session_resumption"});
      !s.ok()) {
    return s;
  }
  settings->enabled = true;
  const std::pair<const char*, bool*> flags[] = {
      {"enabled", &settings->enabled},
      {"verify", &settings->verify},
      {"session_resumption", &settings->session_resumption}};
  for (const auto& [name, field] : flags) {
    if (const toml::node* n = table.get(name)) {
      LL_CONFIG_TRY(v, load.Bool(*n, std::string("backend_tls.") + name));
      *field = *v;
    }
  }
  const std::pair<const char*, std::string*> strings[] = {{"ca", &settings->ca},
                                                          {"ca_dir", &settings->ca_dir},
                                                          {"server_name", &settings->server_name}};
  for (const auto& [name, field] : strings) {
    if (const toml::node* n = table.get(name)) {
      LL_CONFIG_TRY(v, load.String(*n, std::string("backend_tls.") + name));
      *field = *v;
    }
  }
  return LoadCommon(table, load, "backend_tls",
                    CommonTls{&settings->cert, &settings->key, &settings->min_version,
                              &settings->max_version, &settings->ciphers, &settings->ciphersuites});
}

std::optional<ConfigProblem> CheckClientTls(const ClientTlsSettings& settings) {
  if (settings.cert.empty() && settings.key.empty() &&
      (!settings.ca.empty() || !settings.ciphers.empty() || !settings.ciphersuites.empty())) {
    return ConfigProblem{"client_tls.cert",
                         "missing: TLS toward clients needs a certificate and its key"};
  }
  return CheckCommon("client_tls", settings.cert, settings.key, settings.min_version,
                     settings.max_version);
}

std::optional<ConfigProblem> CheckBackendTls(const BackendTlsSettings& settings) {
  return CheckCommon("backend_tls", settings.cert, settings.key, settings.min_version,
                     settings.max_version);
}

}  // namespace longlink::config
