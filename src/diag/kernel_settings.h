// The kernel settings and counters that decide what TIME_WAIT costs on this host, read from
// /proc/sys and /proc/net of the caller's network namespace (most of them are per namespace).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longlink::diag {

// The ephemeral range connect() draws local ports from, less reserved ports.
struct PortRange {
  std::uint32_t low = 32768;
  std::uint32_t high = 60999;
  std::uint32_t reserved = 0;  // ports of ip_local_reserved_ports inside [low, high]

  std::uint32_t size() const { return high >= low ? high - low + 1 : 0; }
  std::uint32_t usable() const { return size() > reserved ? size() - reserved : 0; }
  bool Contains(std::uint32_t port) const { return port >= low && port <= high; }
};

// One sysctl as read: value is nullopt when the kernel does not have it (tcp_tw_recycle since
// 4.12, tcp_tw_reuse_delay before 6.x) or it could not be read.
struct SysctlValue {
  std::string name;  // dotted, "net.ipv4.tcp_tw_reuse"
  std::optional<std::string> value;
};

struct KernelSettings {
  std::vector<SysctlValue> sysctls;  // in audit order
  PortRange port_range;

  // The value of `name`, or nullopt when absent.
  std::optional<std::string> Get(std::string_view name) const;
  // The value as an integer, or nullopt when absent or not a number.
  std::optional<std::int64_t> GetInt(std::string_view name) const;
};

// Counters from /proc/net/netstat (TcpExt*), /proc/net/snmp (Tcp*) and /proc/net/sockstat.
// Missing files leave counters absent.
struct KernelCounters {
  std::map<std::string, std::int64_t> values;  // "TcpExtTW", "TcpActiveOpens", "sockstat_tw"
  std::optional<std::int64_t> Get(std::string_view name) const;
};

// Reads the sysctls longlink audits, in the caller's namespace.
KernelSettings ReadKernelSettings();
KernelCounters ReadKernelCounters();

// Parsers, exposed for tests on recorded text.
// /proc/net/netstat and /proc/net/snmp hold pairs of lines "Prefix: names..." / "Prefix: values";
// every pair whose prefix is in `prefixes` is added as PrefixName -> value.
void ParseProcNetPairs(std::string_view text, const std::vector<std::string_view>& prefixes,
                       std::map<std::string, std::int64_t>* out);
// "TCP: inuse 5 orphan 0 tw 30412 alloc 12 mem 3" -> tw.
std::optional<std::int64_t> ParseSockstatTw(std::string_view text);
// ip_local_port_range ("32768\t60999") and ip_local_reserved_ports ("8080,9000-9010").
std::optional<PortRange> ParsePortRange(std::string_view range_text,
                                        std::string_view reserved_text);

}  // namespace longlink::diag
