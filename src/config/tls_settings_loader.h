// Reading [client_tls] and [backend_tls] from the TOML file, and the rules across their keys
// (config/tls_settings.h has the values).
#pragma once

#include <optional>

#include "config/tls_settings.h"
#include "config/toml_loader.h"

namespace longlink::config {

// Reads the tables; `table` is [client_tls] or [backend_tls] (present: [backend_tls] is then
// enabled unless it says otherwise). Errors name the key and line.
Status LoadClientTls(const toml::table& table, const Loader& load, ClientTlsSettings* settings);
Status LoadBackendTls(const toml::table& table, const Loader& load, BackendTlsSettings* settings);

// Rules across keys: key with cert, versions in order, no NUL bytes.
std::optional<ConfigProblem> CheckClientTls(const ClientTlsSettings& settings);
std::optional<ConfigProblem> CheckBackendTls(const BackendTlsSettings& settings);

}  // namespace longlink::config
