#include "diag/kernel_settings.h"

#include <algorithm>
#include <charconv>

#include "diag/proc_net_tcp.h"

namespace longlink::diag {
namespace {

// What longlink audits, in the order the report lists them.
constexpr std::string_view kAudited[] = {
    "net.ipv4.tcp_tw_reuse",        "net.ipv4.tcp_tw_reuse_delay",      "net.ipv4.tcp_tw_recycle",
    "net.ipv4.tcp_timestamps",      "net.ipv4.tcp_max_tw_buckets",      "net.ipv4.tcp_fin_timeout",
    "net.ipv4.ip_local_port_range", "net.ipv4.ip_local_reserved_ports", "net.core.somaxconn",
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

template <typename T>
bool ParseNumber(std::string_view text, T* value) {
  text = Trim(text);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> words;
  while (!line.empty()) {
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    std::size_t end = line.find_first_of(" \t", start);
    if (end == std::string_view::npos) end = line.size();
    words.push_back(line.substr(start, end - start));
    line.remove_prefix(end);
  }
  return words;
}

std::optional<std::string> ReadSysctl(std::string_view dotted) {
  std::string path = "/proc/sys/";
  for (char c : dotted) path.push_back(c == '.' ? '/' : c);
  auto text = ReadWholeFile(path);
  if (!text) return std::nullopt;
  std::string value(Trim(*text));
  std::replace(value.begin(), value.end(), '\t', ' ');
  return value;
}

}  // namespace

std::optional<std::string> KernelSettings::Get(std::string_view name) const {
  for (const auto& s : sysctls) {
    if (s.name == name) return s.value;
  }
  return std::nullopt;
}

std::optional<std::int64_t> KernelSettings::GetInt(std::string_view name) const {
  auto text = Get(name);
  std::int64_t v;
  if (!text || !ParseNumber(*text, &v)) return std::nullopt;
  return v;
}

std::optional<std::int64_t> KernelCounters::Get(std::string_view name) const {
  auto it = values.find(std::string(name));
  if (it == values.end()) return std::nullopt;
  return it->second;
}

void ParseProcNetPairs(std::string_view text, const std::vector<std::string_view>& prefixes,
                       std::map<std::string, std::int64_t>* out) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    std::size_t eol = text.find('\n');
    lines.push_back(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  }
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    auto names = SplitWords(lines[i]);
    auto values = SplitWords(lines[i + 1]);
    if (names.empty() || values.empty() || names[0] != values[0] || names.size() != values.size())
      continue;
    std::string_view prefix = names[0];
    if (!prefix.empty() && prefix.back() == ':') prefix.remove_suffix(1);
    if (std::find(prefixes.begin(), prefixes.end(), prefix) == prefixes.end()) continue;
    for (std::size_t k = 1; k < names.size(); ++k) {
      std::int64_t v;
      if (ParseNumber(values[k], &v)) out->emplace(std::string(prefix) + std::string(names[k]), v);
    }
    ++i;  // the values line is consumed
  }
}

std::optional<std::int64_t> ParseSockstatTw(std::string_view text) {
  std::size_t at = text.find("TCP:");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(at);
  line = line.substr(0, line.find('\n'));
  auto words = SplitWords(line);
  for (std::size_t i = 1; i + 1 < words.size(); ++i) {
    std::int64_t v;
    if (words[i] == "tw" && ParseNumber(words[i + 1], &v)) return v;
  }
  return std::nullopt;
}

std::optional<PortRange> ParsePortRange(std::string_view range_text,
                                        std::string_view reserved_text) {
  auto words = SplitWords(Trim(range_text));
  PortRange range;
  if (words.size() != 2 || !ParseNumber(words[0], &range.low) ||
      !ParseNumber(words[1], &range.high) || range.low > range.high || range.high > 65535) {
    return std::nullopt;
  }
  // "8080,9000-9010": count reserved ports inside the range.
  std::string_view rest = Trim(reserved_text);
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    if (item.empty()) continue;
    std::uint32_t lo, hi;
    std::size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      if (!ParseNumber(item, &lo)) return std::nullopt;
      hi = lo;
    } else if (!ParseNumber(item.substr(0, dash), &lo) ||
               !ParseNumber(item.substr(dash + 1), &hi)) {
      return std::nullopt;
    }
    lo = std::max(lo, range.low);
    hi = std::min(hi, range.high);
    if (lo <= hi) range.reserved += hi - lo + 1;
  }
  return range;
}

KernelSettings ReadKernelSettings() {
  KernelSettings settings;
  for (std::string_view name : kAudited)
    settings.sysctls.push_back({std::string(name), ReadSysctl(name)});
  auto range = settings.Get("net.ipv4.ip_local_port_range");
  auto reserved = settings.Get("net.ipv4.ip_local_reserved_ports");
  if (range) {
    if (auto parsed = ParsePortRange(*range, reserved.value_or(""))) settings.port_range = *parsed;
  }
  return settings;
}

KernelCounters ReadKernelCounters() {
  KernelCounters counters;
  if (auto text = ReadWholeFile("/proc/net/netstat")) {
    ParseProcNetPairs(*text, {"TcpExt"}, &counters.values);
  }
  if (auto text = ReadWholeFile("/proc/net/snmp")) {
    ParseProcNetPairs(*text, {"Tcp"}, &counters.values);
  }
  if (auto text = ReadWholeFile("/proc/net/sockstat")) {
    if (auto tw = ParseSockstatTw(*text)) counters.values["sockstat_tw"] = *tw;
  }
  return counters;
}

}  // namespace longlink::diag
