// Report: everything `longlink diagnose` found on one sample, as plain values. The census and
// analysis fill it; the text, JSON and Prometheus renderers only read it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diag/ip_address.h"
#include "diag/kernel_settings.h"
#include "diag/proxy_figures.h"
#include "diag/socket_owners.h"
#include "diag/socket_record.h"
#include "diag/tcp_state.h"

namespace longlink::diag {

// Linux keeps TIME_WAIT exactly this long (TCP_TIMEWAIT_LEN); no sysctl changes it.
inline constexpr std::uint32_t kTimeWaitMs = 60'000;

struct StateCounts {
  std::array<std::uint64_t, kTcpStateCount> by_state{};
  std::uint64_t fin_wait2_orphans = 0;  // included in by_state[FIN_WAIT2]
  std::uint64_t total = 0;

  void Add(const SocketRecord& socket) {
    ++by_state[static_cast<std::size_t>(socket.state)];
    if (socket.IsFinWait2Orphan()) ++fin_wait2_orphans;
    ++total;
  }
  std::uint64_t operator[](TcpState state) const {
    return by_state[static_cast<std::size_t>(state)];
  }
};

enum class Direction : std::uint8_t {
  kOutbound,  // this host connected to the service
  kInbound,   // peers connected to a port this host listens on
};

// A process that holds sockets of a destination, with how many.
struct ProcessShare {
  ProcessInfo process;
  std::uint64_t sockets = 0;
};

// Sockets grouped by the service they talk to.
struct DestinationGroup {
  Direction direction = Direction::kOutbound;
  Endpoint service;  // remote endpoint (outbound) or local listening endpoint (inbound)
  StateCounts counts;
  std::uint64_t time_wait_recent = 0;  // TIME_WAIT entered within the report's window
  std::uint64_t peers = 0;             // distinct local (outbound) or remote (inbound) addresses
  double close_rate_recent = 0;        // TIME_WAIT entries per second over the window
  double close_rate_60s = 0;           // TIME_WAIT count / 60 s
  // Who churns: processes holding live (inode-bearing) sockets to the same service. Filled only
  // for groups that a churn finding names (ChurnSeverity) and that have live sockets.
  std::vector<ProcessShare> processes;
  // Inodes of the group's first ESTABLISHED/SYN_SENT sockets (at most kLiveInodesPerGroup,
  // census.h), for the above.
  std::vector<std::uint64_t> live_inodes;

  // "this host (client)", "this host (server)", or empty without TIME_WAIT.
  std::string ClosedFirstBy() const;
};

enum class Level : std::uint8_t { kOk, kWarning, kCritical };

// Ephemeral ports held toward one (local address, remote address, remote port).
struct PortPressure {
  IpAddress local_address;
  Endpoint remote;
  std::uint64_t ports_held = 0;
  std::uint32_t usable_ports = 0;
  double ratio = 0;
  Level level = Level::kOk;
};

// CLOSE_WAIT sockets of one process toward one service: for outbound sockets the server it
// connected to; for inbound sockets this host's listening endpoint (its clients closed).
struct PeerCount {
  Direction direction = Direction::kOutbound;
  Endpoint service;
  std::uint64_t count = 0;
};

struct CloseWaitProcess {
  ProcessInfo process;
  std::uint64_t count = 0;
  std::vector<PeerCount> peers;  // sorted by count
};

enum class Severity : std::uint8_t { kCritical, kWarning, kInfo };

struct Finding {
  Severity severity = Severity::kInfo;
  std::string code;     // stable identifier, e.g. "short_lived_connections"
  std::string subject;  // what it is about: "10.0.0.5:3306", "pid 4242", a sysctl name
  std::string title;    // one sentence: what is wrong
  std::string advice;   // what to do instead
};

enum class Advice : std::uint8_t { kLeave, kConsider, kChange };

struct SysctlAudit {
  std::string name;
  std::optional<std::string> value;
  std::string meaning;  // what the setting really does, at this value
  Advice advice = Advice::kLeave;
  std::string note;  // why
};

// Rates between two samples of --watch, per second.
struct Rates {
  double interval_seconds = 0;
  double tw_entered = 0;     // Δ TcpExtTW
  double tw_recycled = 0;    // Δ TcpExtTWRecycled
  double tw_overflow = 0;    // Δ TcpExtTCPTimeWaitOverflow
  double active_opens = 0;   // Δ TcpActiveOpens
  double passive_opens = 0;  // Δ TcpPassiveOpens
  // The same TIME_WAIT entry rate as estimated from the sockets' remaining timers (all groups,
  // over the report's window): far below tw_entered means sockets leave TIME_WAIT early
  // (tcp_tw_reuse, tcp_max_tw_buckets) or the rate changed within the window.
  double tw_entered_by_timers = 0;
};

struct Report {
  std::string generated_at;  // RFC 3339 UTC
  std::string host;
  std::optional<std::string> netns;
  std::string source;  // "netlink" or "proc"
  std::optional<std::string> source_note;
  std::vector<std::string> partial_reasons;
  std::string filter;  // SocketFilter::ToString(), empty without filters
  int window_seconds = 10;

  StateCounts states;
  std::vector<DestinationGroup> destinations;
  std::vector<PortPressure> port_pressure;
  std::vector<CloseWaitProcess> close_wait;
  std::uint64_t close_wait_unattributed = 0;
  std::vector<std::uint16_t> listening_ports;
  PortRange port_range;
  KernelCounters counters;
  std::optional<Rates> rates;
  std::vector<SysctlAudit> sysctls;
  std::vector<Finding> findings;
  // The `longlink proxy` processes of this network namespace (or the one --proxy-admin
  // names), in pid order; empty when none runs.
  std::vector<ProxyStatus> proxies;
  std::string verdict;
  std::optional<std::string> proxy_config;

  bool partial() const { return !partial_reasons.empty(); }
};

std::string_view DirectionName(Direction direction);  // "outbound", "inbound"
std::string_view LevelName(Level level);              // "ok", "warning", "critical"
std::string_view SeverityName(Severity severity);     // "critical", "warning", "info"
std::string_view AdviceName(Advice advice);           // "leave", "consider", "change"

}  // namespace longlink::diag
