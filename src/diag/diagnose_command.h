// `longlink diagnose`: takes samples of the host's TCP sockets and kernel state, analyses them
// and prints a report. main.cc parses flags into DiagnoseOptions; this runs them.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "common/result.h"
#include "diag/report.h"
#include "diag/socket_filter.h"
#include "diag/socket_listing.h"

namespace longlink::diag {

enum class OutputFormat : std::uint8_t { kText, kJson, kPrometheus };

struct DiagnoseOptions {
  OutputFormat format = OutputFormat::kText;
  std::optional<double> watch_seconds;  // set: repeat every so many seconds
  std::optional<int> count;             // with watch: stop after this many samples
  int window_seconds = 10;              // recent close-rate window, 1..60
  SocketFilter filter;
  std::optional<std::string> netns;
  SocketSource source = SocketSource::kAuto;
  std::size_t top = 10;
  // The admin socket of a `longlink proxy` to read (--proxy-admin); without it, running
  // proxies are looked for in /proc (proxy_probe.h).
  std::optional<std::string> proxy_admin;
  bool color = false;
  bool unicode = false;
};

// Takes one sample and analyses it. `previous` (the prior sample's counters and when they were
// read) adds rates. Fails only when no socket list could be read.
Result<Report> TakeSample(const DiagnoseOptions& options, const KernelCounters* previous,
                          double seconds_since_previous);

// Runs the command: enters the namespace, samples (once, or every watch_seconds), renders to
// `out`. Errors go to stderr as one line. Returns the process exit status: 0 on success (with
// or without findings), 1 when sockets could not be listed or the namespace not entered.
int RunDiagnose(const DiagnoseOptions& options, std::FILE* out);

}  // namespace longlink::diag
