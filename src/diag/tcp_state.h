// TCP states as the kernel numbers them (include/net/tcp_states.h), with the names that
// operators know from netstat and ss.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace longlink::diag {

enum class TcpState : std::uint8_t {
  kEstablished = 1,
  kSynSent = 2,
  kSynRecv = 3,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kListen = 10,
  kClosing = 11,
};

inline constexpr int kTcpStateCount = 12;  // index 0 unused; 1..11 as above

// Every state in kernel order, for tables that list all of them.
inline constexpr std::array<TcpState, 11> kAllTcpStates = {
    TcpState::kEstablished, TcpState::kSynSent,  TcpState::kSynRecv, TcpState::kFinWait1,
    TcpState::kFinWait2,    TcpState::kTimeWait, TcpState::kClose,   TcpState::kCloseWait,
    TcpState::kLastAck,     TcpState::kListen,   TcpState::kClosing};

// "TIME_WAIT", "CLOSE_WAIT", ...; "UNKNOWN" for a number outside 1..11.
std::string_view TcpStateName(TcpState state);

// Accepts netstat spellings (TIME_WAIT), ss spellings (time-wait), any case, and
// "listening" for LISTEN. Returns nullopt for anything else.
std::optional<TcpState> ParseTcpState(std::string_view text);

// Maps the kernel's state number; nullopt outside 1..11 (e.g. TCP_NEW_SYN_RECV).
std::optional<TcpState> TcpStateFromKernel(unsigned value);

// Bitmask of states for inet_diag's idiag_states.
using StateMask = std::uint32_t;
inline constexpr StateMask StateBit(TcpState state) {
  return StateMask{1} << static_cast<unsigned>(state);
}
inline constexpr StateMask kAllStatesMask = 0xFFE;  // bits 1..11

}  // namespace longlink::diag
