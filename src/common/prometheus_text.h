// Pieces of the Prometheus text exposition format (0.0.4) that every renderer shares
// (`longlink diagnose --prometheus`, the proxy's /metrics).
#pragma once

#include <string>
#include <string_view>

namespace longlink {

// A label value with backslash, double quote and newline escaped; nothing else changes.
std::string EscapePrometheusLabel(std::string_view value);

}  // namespace longlink
