// Renderers of a Report: a human report for a terminal, JSON (docs/DIAGNOSE.md schema
// "longlink.diagnose/1") and Prometheus text exposition. They only read the report.
#pragma once

#include <string>

#include "diag/report.h"

namespace longlink::diag {

struct TextStyle {
  bool color = false;    // ANSI colours (only on a terminal, never with NO_COLOR)
  bool unicode = false;  // block characters for bars (UTF-8 locale)
  std::size_t top = 10;  // rows per table
};

std::string RenderText(const Report& report, const TextStyle& style);

// pretty: indented over several lines; otherwise one line (for --watch, one document per line).
std::string RenderJson(const Report& report, bool pretty);

// `top` limits the labelled per-destination, per-process and per-port series.
std::string RenderPrometheus(const Report& report, std::size_t top);

}  // namespace longlink::diag
