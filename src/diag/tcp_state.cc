#include "diag/tcp_state.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace longlink::diag {
namespace {

constexpr std::array<std::string_view, kTcpStateCount> kNames = {
    "UNKNOWN",   "ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
    "TIME_WAIT", "CLOSE",       "CLOSE_WAIT", "LAST_ACK", "LISTEN",    "CLOSING"};

}  // namespace

std::string_view TcpStateName(TcpState state) {
  auto index = static_cast<std::size_t>(state);
  return index < kNames.size() ? kNames[index] : kNames[0];
}

std::optional<TcpState> TcpStateFromKernel(unsigned value) {
  if (value < 1 || value > 11) return std::nullopt;
  return static_cast<TcpState>(value);
}

std::optional<TcpState> ParseTcpState(std::string_view text) {
  std::string canon;
  canon.reserve(text.size());
  for (char c : text) {
    if (c == '-') c = '_';
    canon.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  // ss spells some states differently from the kernel's header.
  if (canon == "LISTENING") canon = "LISTEN";
  if (canon == "CLOSED") canon = "CLOSE";
  if (canon == "SYN_RECEIVED") canon = "SYN_RECV";
  if (canon == "FIN_WAIT_1") canon = "FIN_WAIT1";
  if (canon == "FIN_WAIT_2") canon = "FIN_WAIT2";
  for (std::size_t i = 1; i < kNames.size(); ++i) {
    if (kNames[i] == canon) return static_cast<TcpState>(i);
  }
  return std::nullopt;
}

}  // namespace longlink::diag
