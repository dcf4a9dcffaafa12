// Reading [admin] and [metrics] from the TOML file, and their rules (config/admin_settings.h
// has the values).
#pragma once

#include <optional>

#include "config/admin_settings.h"
#include "config/toml_loader.h"

namespace longlink::config {

// Errors name the key and line ("admin.users[0].name: missing").
Status LoadAdmin(const toml::table& table, const Loader& load, AdminSettings* settings);
Status LoadMetrics(const toml::table& table, const Loader& load, MetricsSettings* settings);

// Paths absolute, names unique and non-empty, one password form per user, hashes valid; TCP
// listeners need users (peer credentials exist only on the Unix socket); someone can log in.
std::optional<ConfigProblem> CheckAdmin(const AdminSettings& settings);
// A TCP address.
std::optional<ConfigProblem> CheckMetrics(const MetricsSettings& settings);

}  // namespace longlink::config
