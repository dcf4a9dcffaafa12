// The census: one pass over the socket list that counts states, groups sockets by the service
// they talk to, measures ephemeral-port use per destination and picks out the sockets whose
// owners are worth finding. Pure: no I/O, so it is tested on recorded socket lists.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_set>
#include <vector>

#include "diag/kernel_settings.h"
#include "diag/report.h"
#include "diag/socket_filter.h"
#include "diag/socket_owners.h"
#include "diag/socket_record.h"

namespace longlink::diag {

struct Census {
  StateCounts states;                          // sockets matching the filter
  std::vector<DestinationGroup> destinations;  // sorted by TIME_WAIT, then total
  std::vector<PortPressure> port_pressure;     // sorted by ratio
  std::vector<std::uint16_t> listening_ports;  // all of them, whatever the filter; sorted
  struct CloseWaitSocket {
    std::uint64_t inode = 0;
    Direction direction = Direction::kOutbound;
    Endpoint service;
  };
  std::vector<CloseWaitSocket> close_wait;  // CLOSE_WAIT sockets matching the filter
};

// Groups `sockets`. A socket whose local port is a listening port is inbound (its service is
// the local endpoint); any other is outbound (its service is the remote endpoint). LISTEN
// sockets are counted in states but form no group. `window_seconds` (1..60) sets the recent
// close-rate window.
Census TakeCensus(std::span<const SocketRecord> sockets, const SocketFilter& filter,
                  const PortRange& port_range, int window_seconds);

// The inodes worth attributing: every CLOSE_WAIT socket, and the live sockets of groups that
// have TIME_WAIT (whoever holds a live connection to a churning service likely makes the
// short ones too). Empty when there is nothing to attribute, so /proc is not walked.
std::unordered_set<std::uint64_t> InodesToAttribute(const Census& census);

struct Attribution {
  std::vector<CloseWaitProcess> close_wait;  // sorted by count
  std::uint64_t close_wait_unattributed = 0;
};

// Fills each destination's `processes` from `owners` and groups CLOSE_WAIT by process and peer.
Attribution AttributeSockets(const SocketOwners& owners, Census* census);

}  // namespace longlink::diag
