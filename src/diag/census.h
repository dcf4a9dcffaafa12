// The census: one pass over the sockets, as a source delivers them, that counts states, groups
// sockets by the service they talk to, measures ephemeral-port use per destination and keeps
// the few inodes worth attributing to a process. Its memory grows with the number of
// destinations (and peer addresses), never with the number of sockets. Pure: no I/O, so it is
// tested on recorded socket lists.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "diag/kernel_settings.h"
#include "diag/peer_counts.h"
#include "diag/report.h"
#include "diag/socket_filter.h"
#include "diag/socket_owners.h"
#include "diag/socket_sink.h"

namespace longlink::diag {

// Live sockets kept per destination for process attribution: processes are found from at most
// this many of a destination's ESTABLISHED/SYN_SENT sockets (the first ones listed).
inline constexpr std::size_t kLiveInodesPerGroup = 4096;
// CLOSE_WAIT sockets kept for attribution; any beyond are counted as unattributed.
inline constexpr std::size_t kCloseWaitSocketsKept = 65536;

struct Census {
  StateCounts states;                          // sockets matching the filter
  std::vector<DestinationGroup> destinations;  // sorted by TIME_WAIT, then total
  std::vector<PortPressure> port_pressure;     // sorted by ports held
  std::vector<std::uint16_t> listening_ports;  // all of them, whatever the filter; sorted
  struct CloseWaitSocket {
    std::uint64_t inode = 0;
    std::uint32_t group = 0;  // index into destinations
  };
  std::vector<CloseWaitSocket> close_wait;  // CLOSE_WAIT sockets matching the filter, capped
  std::uint64_t close_wait_not_kept = 0;    // CLOSE_WAIT beyond kCloseWaitSocketsKept
};

// Builds a Census from sockets delivered one at a time (a SocketSink, fed by ListTcpSockets).
// A socket whose local port is a listening port is inbound (its service is the local
// endpoint); any other is outbound (its service is the remote endpoint). LISTEN sockets are
// counted in states but form no group. REQUIRES: every LISTEN socket is added before the
// first socket of another state (ListTcpSockets delivers them so); `filter` outlives the
// builder.
class CensusBuilder final : public SocketSink {
 public:
  // `window_seconds` (clamped to 1..60) sets the recent close-rate window.
  CensusBuilder(const SocketFilter& filter, const PortRange& port_range, int window_seconds);

  void Add(const SocketRecord& socket) override;
  void Clear() override;

  // Sorts the groups and pressure rows, computes rates, and hands the census over; the builder
  // is empty afterwards.
  Census Finish();

 private:
  struct ServiceHash {
    std::size_t operator()(const Endpoint& e) const;
  };

  std::uint32_t GroupOf(Direction direction, const Endpoint& service);
  bool IsListening(std::uint16_t port) const { return (listening_[port / 64] >> (port % 64)) & 1u; }

  const SocketFilter& filter_;
  PortRange port_range_;
  int window_seconds_;
  std::uint32_t recent_after_ms_;  // a TIME_WAIT timer above this entered within the window

  Census census_;
  std::vector<std::uint64_t> listening_;  // 65536 bits
  std::unordered_map<Endpoint, std::uint32_t, ServiceHash> outbound_index_, inbound_index_;
  // Ports held per (destination, peer address): the peer is the local address of an outbound
  // socket (then this is also the port-pressure row of that source and destination) or the
  // remote address of an inbound one. A group's number of entries is its count of peers.
  PeerCounts ports_held_;
  // Sockets of one destination tend to come in runs: the last group lookup.
  Direction last_direction_ = Direction::kOutbound;
  Endpoint last_service_;
  std::uint32_t last_group_ = UINT32_MAX;
};

// Groups `sockets` in one pass: listeners first, then the rest, whatever their order here.
// For tests and recorded lists; the diagnose path feeds a CensusBuilder from the source.
Census TakeCensus(std::span<const SocketRecord> sockets, const SocketFilter& filter,
                  const PortRange& port_range, int window_seconds);

// The inodes worth attributing: every kept CLOSE_WAIT socket, and the kept live sockets of the
// groups a churn finding names (whoever holds a live connection to a churning service likely
// makes the short ones too). Empty when there is nothing to attribute, so /proc is not walked.
std::unordered_set<std::uint64_t> InodesToAttribute(const Census& census);

struct Attribution {
  std::vector<CloseWaitProcess> close_wait;   // sorted by count
  std::uint64_t close_wait_unattributed = 0;  // includes census.close_wait_not_kept
};

// Fills each destination's `processes` from `owners` and groups CLOSE_WAIT by process and peer.
Attribution AttributeSockets(const SocketOwners& owners, Census* census);

}  // namespace longlink::diag
