#include "diag/proc_net_tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <memory>

namespace longlink::diag {
namespace {

// USER_HZ: the unit of the tm->when column (jiffies_delta_to_clock_t).
constexpr std::uint32_t kMsPerClockTick = 10;

// Splits off the next space-separated field.
std::string_view NextField(std::string_view* line) {
  std::size_t start = line->find_first_not_of(' ');
  if (start == std::string_view::npos) {
    *line = {};
    return {};
  }
  std::size_t end = line->find(' ', start);
  if (end == std::string_view::npos) end = line->size();
  std::string_view field = line->substr(start, end - start);
  line->remove_prefix(end);
  return field;
}

template <typename T>
bool ParseNumber(std::string_view text, int base, T* value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, base);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// "0100007F:0CEA": the address words are the kernel's __be32 values printed as host-order
// hex numbers, so their in-memory bytes are the network-order address bytes.
bool ParseAddressPort(std::string_view text, int family, Endpoint* endpoint) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view hex = text.substr(0, colon);
  std::size_t words = family == AF_INET ? 1 : 4;
  if (hex.size() != words * 8) return false;
  std::uint8_t bytes[16];
  for (std::size_t i = 0; i < words; ++i) {
    std::uint32_t word;
    if (!ParseNumber(hex.substr(i * 8, 8), 16, &word)) return false;
    std::memcpy(bytes + i * 4, &word, 4);
  }
  endpoint->address = family == AF_INET ? IpAddress::FromV4(bytes) : IpAddress::FromV6(bytes);
  return ParseNumber(text.substr(colon + 1), 16, &endpoint->port);
}

bool ParseLine(std::string_view line, int family, SocketRecord* r) {
  std::string_view sl = NextField(&line);
  if (sl.empty() || sl.back() != ':') return false;
  if (!ParseAddressPort(NextField(&line), family, &r->local)) return false;
  if (!ParseAddressPort(NextField(&line), family, &r->remote)) return false;
  unsigned state;
  if (!ParseNumber(NextField(&line), 16, &state)) return false;
  auto tcp_state = TcpStateFromKernel(state);
  if (!tcp_state) return false;
  r->state = *tcp_state;
  NextField(&line);                           // tx_queue:rx_queue
  std::string_view timer = NextField(&line);  // tr:tm->when
  std::size_t colon = timer.find(':');
  unsigned timer_kind;
  std::uint64_t ticks;
  if (colon == std::string_view::npos || !ParseNumber(timer.substr(0, colon), 16, &timer_kind) ||
      !ParseNumber(timer.substr(colon + 1), 16, &ticks)) {
    return false;
  }
  r->timer = static_cast<SocketTimer>(timer_kind);
  std::uint64_t ms = ticks * kMsPerClockTick;
  r->expires_ms = ms > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(ms);
  NextField(&line);  // retrnsmt
  if (!ParseNumber(NextField(&line), 10, &r->uid)) return false;
  NextField(&line);  // timeout
  return ParseNumber(NextField(&line), 10, &r->inode);
}

}  // namespace

void ParseProcNetTcp(std::string_view text, int family, StateMask states, SocketSink* sink,
                     std::size_t* malformed) {
  bool header = true;
  while (!text.empty()) {
    std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (header) {  // "  sl  local_address rem_address ..."
      header = false;
      continue;
    }
    if (line.find_first_not_of(' ') == std::string_view::npos) continue;
    SocketRecord r;
    if (!ParseLine(line, family, &r)) {
      if (malformed) ++*malformed;
      continue;
    }
    if (states & StateBit(r.state)) sink->Add(r);
  }
}

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot open " + path + ": " + strerror(errno)};
  // Reads land in an uninitialised chunk and are appended: a sysctl of a few bytes costs no
  // zero-filled 256 KiB string, yet /proc/net/tcp is still read in large pieces.
  constexpr std::size_t kChunk = 256 * 1024;
  std::unique_ptr<char[]> chunk(new char[kChunk]);
  std::string data;
  for (;;) {
    ssize_t n = read(fd, chunk.get(), kChunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return Error{"cannot read " + path + ": " + strerror(err)};
    }
    if (n == 0) break;
    data.append(chunk.get(), static_cast<std::size_t>(n));
  }
  close(fd);
  return data;
}

}  // namespace longlink::diag
