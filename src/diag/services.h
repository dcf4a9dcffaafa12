// Names of well-known service ports, so that a report says "mysql" rather than 3306.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace longlink::diag {

// "mysql" for 3306, "postgresql" for 5432, ...; nullopt for ports not in the table.
std::optional<std::string_view> ServiceName(std::uint16_t port);

}  // namespace longlink::diag
