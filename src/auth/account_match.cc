#include "auth/account_match.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>

namespace longlink::auth {
namespace {

constexpr char kAnyRun = '%';
constexpr char kAnyByte = '_';
constexpr char kEscape = '\\';

// The longest Host (HOSTNAME_LENGTH; mysql.global_priv.Host is char(255) in 10.11): the room a
// '%' has to match in, which ranks '%' patterns.
constexpr std::uint32_t kMaxHostLength = 255;

// The server reads an empty Host as '%'.
std::string_view EffectiveHost(std::string_view pattern) {
  return pattern.empty() ? std::string_view("%") : pattern;
}

char AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool SameByte(char a, char b, bool ignore_case) {
  return ignore_case ? AsciiUpper(a) == AsciiUpper(b) : a == b;
}

// True if `text` matches `pattern` ('%', '_', '\' as described in the header). Greedy with one
// backtrack point: on a mismatch the latest '%' takes one more byte.
bool WildMatch(std::string_view text, std::string_view pattern, bool ignore_case) {
  std::size_t t = 0;
  std::size_t p = 0;
  std::size_t after_run = std::string_view::npos;  // pattern position after the latest '%'
  std::size_t run_end = 0;                         // text position that '%' matched up to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == kAnyRun) {
      after_run = ++p;
      run_end = t;
      continue;
    }
    if (p < pattern.size() && pattern[p] == kAnyByte) {
      ++p;
      ++t;
      continue;
    }
    if (p < pattern.size()) {
      const bool escaped = pattern[p] == kEscape && p + 1 < pattern.size();
      const char literal = escaped ? pattern[p + 1] : pattern[p];
      if (SameByte(text[t], literal, ignore_case)) {
        p += escaped ? 2 : 1;
        ++t;
        continue;
      }
    }
    if (after_run == std::string_view::npos) return false;
    p = after_run;
    t = ++run_end;
  }
  while (p < pattern.size() && pattern[p] == kAnyRun) ++p;
  return p == pattern.size();
}

// "a.b.c.d", each part decimal digits worth 0..255.
std::optional<std::uint32_t> ParseIpv4(std::string_view text) {
  std::uint32_t value = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    std::uint32_t number = 0;
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
      number = number * 10 + static_cast<std::uint32_t>(text[digits] - '0');
      if (number > 255) return std::nullopt;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    text.remove_prefix(digits);
    value = (value << 8) | number;
  }
  if (!text.empty()) return std::nullopt;
  return value;
}

struct NetMask {
  std::uint32_t network = 0;
  std::uint32_t mask = 0;
};

// "a.b.c.d/m.m.m.m" with a non-zero mask.
std::optional<NetMask> ParseNetMask(std::string_view pattern) {
  const std::size_t slash = pattern.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto network = ParseIpv4(pattern.substr(0, slash));
  const auto mask = ParseIpv4(pattern.substr(slash + 1));
  if (!network || !mask || *mask == 0) return std::nullopt;
  return NetMask{*network, *mask};
}

// The text the server holds for the address `ip`: IPv4-mapped (::ffff:a.b.c.d) and
// IPv4-compatible (::a.b.c.d, not :: or ::1) IPv6 addresses become a.b.c.d, other IPv6
// addresses take inet_ntop's canonical form; anything else stays as it is.
std::string ServerIpText(std::string_view ip) {
  const std::string text(ip);
  in6_addr address{};
  if (inet_pton(AF_INET6, text.c_str(), &address) != 1) return text;
  const unsigned char* bytes = address.s6_addr;
  const bool zeros_first = std::all_of(bytes, bytes + 10, [](unsigned char b) { return b == 0; });
  const std::uint32_t low = (std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) |
                            (std::uint32_t{bytes[14]} << 8) | std::uint32_t{bytes[15]};
  const bool mapped = zeros_first && bytes[10] == 0xff && bytes[11] == 0xff;
  const bool compatible = zeros_first && bytes[10] == 0 && bytes[11] == 0 && low > 1;
  char out[INET6_ADDRSTRLEN] = {};
  if (mapped || compatible) {
    in_addr v4{};
    std::memcpy(&v4.s_addr, bytes + 12, 4);
    if (inet_ntop(AF_INET, &v4, out, sizeof out) == nullptr) return text;
  } else if (inet_ntop(AF_INET6, &address, out, sizeof out) == nullptr) {
    return text;
  }
  return out;
}

// How specific a host pattern is, smaller first: the digits of MariaDB's get_magic_sort
// (which packs them into one number). The pattern counts N other characters, M '_', K runs
// of '%', and P characters before its first wildcard; L is the room the '%'s match in.
using Specificity = std::array<std::uint32_t, 4>;

Specificity HostSpecificity(std::string_view pattern) {
  std::uint32_t n = 0, m = 0, k = 0, p = 0;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == kAnyRun || c == kAnyByte) {
      if (k == 0 && m == 0) p = n;
      if (c == kAnyByte) {
        ++m;
      } else {
        ++k;
        while (i + 1 < pattern.size() && pattern[i + 1] == kAnyRun) ++i;
      }
      continue;
    }
    if (c == kEscape && i + 1 < pattern.size()) ++i;
    ++n;
  }
  const std::uint32_t l = (k == 0 || n + m >= kMaxHostLength) ? 0 : kMaxHostLength - n - m;
  if (l > m) return {2 * l + 1, k, m, p};
  return {2 * m, l, k, p};
}

// True if row `a` comes before row `b` in the server's order (both apply to the login).
bool ComesBefore(const AccountHost& a, const AccountHost& b) {
  const std::string_view host_a = EffectiveHost(a.host);
  const std::string_view host_b = EffectiveHost(b.host);
  const Specificity spec_a = HostSpecificity(host_a);
  const Specificity spec_b = HostSpecificity(host_b);
  if (spec_a != spec_b) return spec_a < spec_b;
  if (a.user.empty() != b.user.empty()) return !a.user.empty();
  return host_a > host_b;  // descending bytes; equal hosts keep their order
}

}  // namespace

bool HostMatches(std::string_view pattern, const ConnectionOrigin& origin) {
  pattern = EffectiveHost(pattern);
  const std::string ip = ServerIpText(origin.ip);
  if (const auto net = ParseNetMask(pattern); net && !ip.empty()) {
    if (const auto address = ParseIpv4(ip)) return (*address & net->mask) == net->network;
  }
  if (!origin.host_name.empty() && WildMatch(origin.host_name, pattern, /*ignore_case=*/true)) {
    return true;
  }
  return !ip.empty() && WildMatch(ip, pattern, /*ignore_case=*/false);
}

std::optional<std::size_t> MatchAccount(std::span<const AccountHost> rows, std::string_view user,
                                        const ConnectionOrigin& origin) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const AccountHost& row = rows[i];
    if (!row.user.empty() && row.user != user) continue;
    if (!HostMatches(row.host, origin)) continue;
    if (!best || ComesBefore(row, rows[*best])) best = i;
  }
  return best;
}

}  // namespace longlink::auth
