#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "diag/analysis.h"
#include "diag/render.h"

namespace longlink::diag {
namespace {

constexpr std::size_t kWidth = 100;  // wrap prose at this column

class Painter {
 public:
  explicit Painter(bool color) : color_(color) {}
  std::string Bold(std::string_view s) const { return Wrap("1", s); }
  std::string Dim(std::string_view s) const { return Wrap("2", s); }
  std::string Red(std::string_view s) const { return Wrap("1;31", s); }
  std::string Yellow(std::string_view s) const { return Wrap("33", s); }
  std::string Cyan(std::string_view s) const { return Wrap("36", s); }
  std::string Green(std::string_view s) const { return Wrap("32", s); }
  std::string Severity(diag::Severity s, std::string_view text) const {
    return s == Severity::kCritical  ? Red(text)
           : s == Severity::kWarning ? Yellow(text)
                                     : Cyan(text);
  }
  std::string Level(diag::Level l, std::string_view text) const {
    return l == Level::kCritical ? Red(text) : l == Level::kWarning ? Yellow(text) : Green(text);
  }

 private:
  std::string Wrap(std::string_view code, std::string_view s) const {
    return color_ ? fmt::format("\x1b[{}m{}\x1b[0m", code, s) : std::string(s);
  }
  bool color_;
};

// Display width of UTF-8 text without escape sequences.
std::size_t DisplayWidth(std::string_view s) {
  std::size_t width = 0;
  bool escape = false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (escape) {
      escape = c != 'm';
      continue;
    }
    if (c == 0x1b) {
      escape = true;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;  // count lead bytes only
  }
  return width;
}

// A table whose columns size to their content; numeric columns align right.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_aligned)
      : right_(std::move(right_aligned)) {
    rows_.push_back(std::move(header));
  }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render(const Painter& paint) const {
    std::vector<std::size_t> widths(rows_.front().size(), 0);
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size(); ++i)
        widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
    std::string out;
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      std::string line = "  ";
      for (std::size_t i = 0; i < rows_[r].size(); ++i) {
        const std::string& cell = rows_[r][i];
        std::string pad(widths[i] - DisplayWidth(cell), ' ');
        bool last = i + 1 == rows_[r].size();
        line += right_[i] ? pad + cell : cell + (last ? "" : pad);
        if (!last) line += "  ";
      }
      out += (r == 0 ? paint.Dim(line) : line) + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

// Wraps prose at kWidth, every line indented by `indent` spaces.
std::string WrapText(std::string_view text, std::size_t indent) {
  std::string out, line;
  const std::string pad(indent, ' ');
  while (!text.empty()) {
    std::size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    if (!line.empty() && indent + line.size() + 1 + word.size() > kWidth) {
      out += pad + line + "\n";
      line.clear();
    }
    if (!line.empty()) line += ' ';
    line += word;
  }
  if (!line.empty()) out += pad + line + "\n";
  return out;
}

std::string Heading(const Painter& paint, std::string_view text) {
  return "\n" + paint.Bold(text) + "\n";
}

std::string Bar(std::uint64_t value, std::uint64_t max, bool unicode) {
  constexpr std::size_t kBar = 40;
  if (max == 0 || value == 0) return {};
  std::size_t eighths = static_cast<std::size_t>(value * kBar * 8 / max);
  if (eighths == 0) eighths = 1;
  if (!unicode) return std::string(std::max<std::size_t>(eighths / 8, 1), '#');
  static constexpr std::string_view kPartial[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  std::string bar;
  for (std::size_t i = 0; i < eighths / 8; ++i) bar += "█";
  bar += kPartial[eighths % 8];
  return bar;
}

std::string Rate(double r) { return r >= 10 ? fmt::format("{:.0f}", r) : fmt::format("{:.1f}", r); }

void States(const Report& r, const Painter& paint, const TextStyle& style, std::string* out) {
  *out += Heading(paint,
                  fmt::format("TCP sockets by state ({} in all)", WithThousands(r.states.total)));
  std::uint64_t max = 0;
  for (TcpState s : kAllTcpStates) max = std::max(max, r.states[s]);
  Table t({"STATE", "COUNT", ""}, {false, true, false});
  for (TcpState s : kAllTcpStates) {
    if (r.states[s] == 0) continue;
    std::string bar = Bar(r.states[s], max, style.unicode);
    if (s == TcpState::kFinWait2 && r.states.fin_wait2_orphans > 0) {
      bar += fmt::format(" ({} orphans: time-wait mini-sockets, not TIME_WAIT)",
                         WithThousands(r.states.fin_wait2_orphans));
    }
    t.Add({std::string(TcpStateName(s)), WithThousands(r.states[s]), bar});
  }
  if (r.states.total == 0) {
    *out += "  no TCP sockets\n";
  } else {
    *out += t.Render(paint);
  }
}

void Destinations(const Report& r, const Painter& paint, const TextStyle& style, std::string* out) {
  if (r.destinations.empty()) return;
  std::size_t shown = std::min(style.top, r.destinations.size());
  *out += Heading(paint, fmt::format("Destinations (top {} of {}; closes/s over the last {} s)",
                                     shown, r.destinations.size(), r.window_seconds));
  Table t({"DIRECTION", "SERVICE", "TIME_WAIT", "ESTAB", "CLOSE_WAIT", "FIN_WAIT2", "OTHER",
           "CLOSES/S", "CLOSED FIRST BY"},
          {false, false, true, true, true, true, true, true, false});
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& g = r.destinations[i];
    std::uint64_t tw = g.counts[TcpState::kTimeWait], est = g.counts[TcpState::kEstablished],
                  cw = g.counts[TcpState::kCloseWait], fw2 = g.counts[TcpState::kFinWait2];
    std::uint64_t other = g.counts.total - tw - est - cw - fw2;
    std::string closed = g.ClosedFirstBy();
    t.Add({std::string(DirectionName(g.direction)), DescribeService(g.service), WithThousands(tw),
           WithThousands(est), WithThousands(cw), WithThousands(fw2), WithThousands(other),
           tw ? Rate(g.close_rate_recent) : "-", closed.empty() ? "-" : closed});
  }
  *out += t.Render(paint);
}

void Ports(const Report& r, const Painter& paint, const TextStyle& style, std::string* out) {
  if (r.port_pressure.empty()) return;
  std::size_t shown = std::min(style.top, r.port_pressure.size());
  *out += Heading(paint, fmt::format("Ephemeral ports (range {}-{}, {} usable per destination)",
                                     r.port_range.low, r.port_range.high,
                                     WithThousands(r.port_range.usable())));
  Table t({"FROM", "TO", "HELD", "USED", "LEVEL"}, {false, false, true, true, false});
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& p = r.port_pressure[i];
    t.Add({p.local_address.ToString(), DescribeService(p.remote), WithThousands(p.ports_held),
           fmt::format("{:.0f}%", p.ratio * 100), paint.Level(p.level, LevelName(p.level))});
  }
  *out += t.Render(paint);
}

void CloseWait(const Report& r, const Painter& paint, const TextStyle& style, std::string* out) {
  if (r.close_wait.empty() && r.close_wait_unattributed == 0) return;
  *out += Heading(paint, "CLOSE_WAIT by process (the peer closed; the program did not)");
  Table t({"PID", "COMMAND", "COUNT", "SERVICES", "COMMAND LINE"},
          {true, false, true, false, false});
  for (std::size_t i = 0; i < std::min(style.top, r.close_wait.size()); ++i) {
    const auto& c = r.close_wait[i];
    std::string peers;
    for (std::size_t k = 0; k < std::min<std::size_t>(2, c.peers.size()); ++k) {
      if (k) peers += ", ";
      peers += fmt::format("{} {} ×{}", c.peers[k].direction == Direction::kOutbound ? "to" : "on",
                           DescribeService(c.peers[k].service), c.peers[k].count);
    }
    if (c.peers.size() > 2) peers += fmt::format(", +{}", c.peers.size() - 2);
    std::string cmdline = c.process.cmdline.substr(0, 40);
    t.Add(
        {std::to_string(c.process.pid), c.process.command, WithThousands(c.count), peers, cmdline});
  }
  if (r.close_wait_unattributed > 0) {
    t.Add({"?", "(not found)", WithThousands(r.close_wait_unattributed), "", ""});
  }
  *out += t.Render(paint);
}

std::string Duration(std::uint64_t seconds) {
  if (seconds < 120) return fmt::format("{} s", seconds);
  if (seconds < 7200) return fmt::format("{} min", seconds / 60);
  if (seconds < 172800) return fmt::format("{} h {} min", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{} days", seconds / 86400);
}

void Proxies(const Report& r, const Painter& paint, const TextStyle& style, std::string* out) {
  for (const auto& p : r.proxies) {
    if (!p.read()) {
      *out += Heading(paint, p.Name());
      std::string what = p.reach == ProxyReach::kNoAdminSocket ? "no admin console"
                         : p.reach == ProxyReach::kConfigUnreadable
                             ? "config not readable"
                             : "admin console at " + p.admin_socket + " not read";
      *out += WrapText(paint.Yellow(what) + ": " + p.error, 2);
      continue;
    }
    const auto& t = p.totals;
    *out += Heading(paint, fmt::format("{} ({}, up {}, admin console {})", p.Name(), t.version,
                                       Duration(t.uptime_seconds), p.admin_socket));
    Table k({"", "LAST MINUTE", "SINCE START"}, {false, true, true});
    k.Add({"client logins", WithThousands(t.logins_last_minute), WithThousands(t.logins_total)});
    k.Add({"server connections opened", WithThousands(t.server_connects_last_minute),
           WithThousands(t.server_connects_total)});
    k.Add({"server logins saved", WithThousands(p.TimeWaitAvoided()),
           WithThousands(t.server_connects_saved_total)});
    *out += k.Render(paint);
    *out += fmt::format(
        "  About {} TIME_WAIT socket{} to the database avoided now (Linux keeps TIME_WAIT 60 s).\n",
        WithThousands(p.TimeWaitAvoided()), p.TimeWaitAvoided() == 1 ? "" : "s");
    *out += fmt::format(
        "  Backend {} ({}): {} of {} connections. Clients: {} connected, {} waiting, {} pinned.\n",
        t.backend_address, t.backend_reachable ? "reachable" : paint.Red("unreachable"),
        WithThousands(t.backend_connections), WithThousands(t.backend_max_connections),
        WithThousands(t.clients_connected), WithThousands(t.clients_waiting),
        WithThousands(t.clients_pinned));
    std::string listeners;
    for (const auto& l : p.config.tcp) listeners += (listeners.empty() ? "" : ", ") + l;
    if (!p.config.unix_socket.empty())
      listeners += (listeners.empty() ? "" : ", ") + p.config.unix_socket;
    if (!listeners.empty()) *out += "  Listens on " + listeners + "\n";
    std::vector<const ProxyPool*> near;
    for (const auto& pool : p.pools) {
      if (pool.NearLimit()) near.push_back(&pool);
    }
    if (near.empty()) continue;
    *out += "  Pools near their limits:\n";
    Table t2({"USER", "POOL", "MODE", "SERVER", "MAX", "WAITING", "MAX WAIT", "PINNED"},
             {false, false, false, true, true, true, true, true});
    for (std::size_t i = 0; i < std::min(style.top, near.size()); ++i) {
      const auto& pool = *near[i];
      t2.Add({pool.user, pool.pool, pool.mode, WithThousands(pool.ServerConnections()),
              WithThousands(pool.max_connections), WithThousands(pool.cl_waiting),
              fmt::format("{:.1f} ms", static_cast<double>(pool.maxwait_us) / 1000),
              WithThousands(pool.cl_pinned)});
    }
    *out += t2.Render(paint);
  }
}

void Sysctls(const Report& r, const Painter& paint, std::string* out) {
  if (r.sysctls.empty()) return;
  *out += Heading(paint, "Kernel settings");
  for (const auto& s : r.sysctls) {
    std::string advice(AdviceName(s.advice));
    std::string tag = s.advice == Advice::kLeave    ? paint.Green(advice)
                      : s.advice == Advice::kChange ? paint.Red(advice)
                                                    : paint.Yellow(advice);
    std::string value = !s.value ? "(absent)" : s.value->empty() ? "(empty)" : *s.value;
    *out += fmt::format("  {} = {}  [{}]\n", s.name, value, tag);
    *out += WrapText(s.note.empty() ? s.meaning : s.meaning + " " + s.note, 6);
  }
}

void Findings(const Report& r, const Painter& paint, std::string* out) {
  *out += Heading(paint, "Findings");
  for (const auto& f : r.findings) {
    std::string label = fmt::format("{:<8}", SeverityName(f.severity));
    for (auto& c : label) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string title = WrapText(f.title, 12);
    *out += "  " + paint.Severity(f.severity, label) + "  " + title.substr(12);
    *out += WrapText(f.advice, 12);
  }
}

}  // namespace

std::string RenderText(const Report& r, const TextStyle& style) {
  Painter paint(style.color);
  std::string out;
  out += paint.Bold("longlink diagnose") +
         fmt::format(" · {} · {}{} · {} · via {}\n", r.host, r.netns ? "netns " : "",
                     r.netns.value_or("this network namespace"), r.generated_at,
                     r.source == "netlink" ? "netlink sock_diag" : "/proc/net/tcp");
  if (r.source_note) out += paint.Yellow("Note: ") + *r.source_note + "\n";
  if (!r.filter.empty()) out += "Filter: " + r.filter + "\n";
  for (const auto& reason : r.partial_reasons) out += paint.Yellow("PARTIAL: ") + reason + "\n";
  if (r.rates) {
    out += fmt::format(
        "Over the last {:.1f} s: {} entered TIME_WAIT/s (the sockets' timers say {}/s over {} s), "
        "{} connects/s, {} accepts/s, {} TIME_WAIT reused/s, {} TIME_WAIT dropped/s\n",
        r.rates->interval_seconds, Rate(r.rates->tw_entered), Rate(r.rates->tw_entered_by_timers),
        r.window_seconds, Rate(r.rates->active_opens), Rate(r.rates->passive_opens),
        Rate(r.rates->tw_recycled), Rate(r.rates->tw_overflow));
  }
  States(r, paint, style, &out);
  Destinations(r, paint, style, &out);
  Ports(r, paint, style, &out);
  CloseWait(r, paint, style, &out);
  Proxies(r, paint, style, &out);
  Sysctls(r, paint, &out);
  Findings(r, paint, &out);
  out += "\n" + paint.Bold("Verdict: ") + r.verdict + "\n";
  if (r.proxy_config) {
    out += Heading(paint, "A longlink proxy configuration to start from (longlink.toml)");
    std::string_view cfg = *r.proxy_config;
    while (!cfg.empty()) {
      std::size_t eol = cfg.find('\n');
      out += "  " + std::string(cfg.substr(0, eol)) + "\n";
      cfg.remove_prefix(eol == std::string_view::npos ? cfg.size() : eol + 1);
    }
  }
  return out;
}

}  // namespace longlink::diag
