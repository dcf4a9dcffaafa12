#include "diag/diagnose_command.h"

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "diag/analysis.h"
#include "diag/census.h"
#include "diag/netns.h"
#include "diag/proxy_probe.h"
#include "diag/render.h"
#include "diag/socket_owners.h"

namespace longlink::diag {
namespace {

std::string NowRfc3339() {
  time_t now = time(nullptr);
  tm utc;
  gmtime_r(&now, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

double Delta(const KernelCounters& now, const KernelCounters& before, const char* name,
             double seconds) {
  auto a = now.Get(name), b = before.Get(name);
  if (!a || !b || seconds <= 0 || *a < *b) return 0;
  return static_cast<double>(*a - *b) / seconds;
}

std::string Render(const Report& report, const DiagnoseOptions& options) {
  switch (options.format) {
    case OutputFormat::kJson:
      return RenderJson(report, /*pretty=*/!options.watch_seconds);
    case OutputFormat::kPrometheus:
      return RenderPrometheus(report, options.top);
    case OutputFormat::kText:
      break;
  }
  return RenderText(report,
                    {.color = options.color, .unicode = options.unicode, .top = options.top});
}

}  // namespace

Result<Report> TakeSample(const DiagnoseOptions& options, const KernelCounters* previous,
                          double seconds_since_previous) {
  // Counters first and sockets right after (the port range in between: the census measures
  // port pressure while the dump streams), so that rates and counts describe the same moment.
  Report report;
  report.counters = ReadKernelCounters();
  const StateMask kernel_states = options.filter.states | StateBit(TcpState::kListen);
  KernelSettings settings = ReadKernelSettings();
  CensusBuilder builder(options.filter, settings.port_range, options.window_seconds);
  auto listing = ListTcpSockets(options.source, kernel_states, &builder);
  if (!listing) return listing.error();
  Census census = builder.Finish();

  report.generated_at = NowRfc3339();
  report.host = HostName();
  report.netns = options.netns;
  report.source = listing->source;
  report.source_note = listing->source_note;
  report.partial_reasons = std::move(listing->partial_reasons);
  report.filter = options.filter.ToString();
  report.window_seconds = options.window_seconds;
  report.port_range = settings.port_range;

  if (census.close_wait_not_kept > 0) {
    report.partial_reasons.push_back(
        std::to_string(census.close_wait_not_kept) + " CLOSE_WAIT sockets beyond the first " +
        std::to_string(kCloseWaitSocketsKept) + " were not attributed to a process");
  }
  auto inodes = InodesToAttribute(census);
  SocketOwners owners;
  if (!inodes.empty()) {
    owners = FindSocketOwners(inodes);
    if (owners.owner_of.size() < inodes.size() && owners.unreadable_processes > 0) {
      report.partial_reasons.push_back(
          std::to_string(inodes.size() - owners.owner_of.size()) +
          " sockets could not be attributed to a process: /proc/PID/fd of " +
          std::to_string(owners.unreadable_processes) + " processes is not readable without root");
    }
  }
  Attribution attribution = AttributeSockets(owners, &census);
  report.close_wait = std::move(attribution.close_wait);
  report.close_wait_unattributed = attribution.close_wait_unattributed;
  report.states = census.states;
  report.destinations = std::move(census.destinations);
  report.port_pressure = std::move(census.port_pressure);
  report.listening_ports = std::move(census.listening_ports);

  if (previous) {
    const double s = seconds_since_previous;
    report.rates =
        Rates{.interval_seconds = s,
              .tw_entered = Delta(report.counters, *previous, "TcpExtTW", s),
              .tw_recycled = Delta(report.counters, *previous, "TcpExtTWRecycled", s),
              .tw_overflow = Delta(report.counters, *previous, "TcpExtTCPTimeWaitOverflow", s),
              .active_opens = Delta(report.counters, *previous, "TcpActiveOpens", s),
              .passive_opens = Delta(report.counters, *previous, "TcpPassiveOpens", s)};
  }
  if (report.rates) {
    for (const auto& g : report.destinations)
      report.rates->tw_entered_by_timers += g.close_rate_recent;
  }
  report.proxies = ProbeProxies(options.proxy_admin);
  report.sysctls = AuditSysctls(settings, report.counters, report);
  Conclude(settings, &report);
  return report;
}

int RunDiagnose(const DiagnoseOptions& options, std::FILE* out) {
  if (options.netns) {
    if (auto s = EnterNetworkNamespace(*options.netns); !s) {
      std::fprintf(stderr, "longlink diagnose: %s\n", s.error().message.c_str());
      return 1;
    }
  }
  using Clock = std::chrono::steady_clock;
  std::optional<KernelCounters> previous;
  Clock::time_point previous_at;
  const bool clear_screen =
      options.watch_seconds && options.format == OutputFormat::kText && isatty(fileno(out));
  for (int sample = 0;; ++sample) {
    Clock::time_point started = Clock::now();
    double elapsed = std::chrono::duration<double>(started - previous_at).count();
    auto report = TakeSample(options, previous ? &*previous : nullptr, elapsed);
    if (!report) {
      std::fprintf(stderr, "longlink diagnose: cannot list TCP sockets: %s\n",
                   report.error().message.c_str());
      return 1;
    }
    std::string text = Render(*report, options);
    if (clear_screen) std::fputs("\x1b[H\x1b[2J", out);
    if (options.watch_seconds && options.format == OutputFormat::kText && sample > 0 &&
        !clear_screen) {
      std::fputs("\n", out);
    }
    std::fwrite(text.data(), 1, text.size(), out);
    std::fflush(out);
    if (!options.watch_seconds) return 0;
    if (options.count && sample + 1 >= *options.count) return 0;
    previous = std::move(report->counters);
    previous_at = started;
    std::this_thread::sleep_until(started +
                                  std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(*options.watch_seconds)));
  }
}

}  // namespace longlink::diag
