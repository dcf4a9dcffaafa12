// A ProxySnapshot in the Prometheus text exposition format, version 0.0.4: the body of
// GET /metrics (docs/METRICS.md lists every family, its type, labels and meaning).
//
// Contract of the output:
// - every family has exactly one "# HELP" and one "# TYPE" line, followed by all its samples,
//   even when it has no sample yet (a per-pool family before the first pool exists);
// - per-pool families carry the labels user, pool (PoolKey::ToString()) and mode
//   ("session" / "transaction"), in that order, then their own (state, reason, le);
// - label values escape backslash, double quote and newline;
// - integers are printed exactly, doubles as the shortest text that reads back the same;
// - histograms (seconds) have cumulative _bucket samples, one per kLatencyBounds entry and
//   le="+Inf", whose value equals _count (the sum of the snapshot's bucket counts), and _sum.
#pragma once

#include <string>
#include <string_view>

#include "admin/proxy_snapshot.h"

namespace longlink::admin {

// The Content-Type of what RenderPrometheus returns.
inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

std::string RenderPrometheus(const ProxySnapshot& snapshot);

}  // namespace longlink::admin
