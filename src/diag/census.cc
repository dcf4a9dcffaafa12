#include "diag/census.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace longlink::diag {
namespace {

struct EndpointHash {
  std::size_t operator()(const Endpoint& e) const {
    return IpAddressHash()(e.address) * 31 + e.port;
  }
};

struct PressureKey {
  IpAddress local;
  Endpoint remote;
  bool operator==(const PressureKey&) const = default;
};

struct PressureKeyHash {
  std::size_t operator()(const PressureKey& k) const {
    return IpAddressHash()(k.local) * 131 + EndpointHash()(k.remote);
  }
};

// Per-group scratch state that the report does not keep.
struct GroupScratch {
  std::unordered_set<IpAddress, IpAddressHash> peers;
  IpAddress last_peer;
  bool has_last_peer = false;
};

bool IsLive(TcpState state) {
  return state == TcpState::kEstablished || state == TcpState::kSynSent;
}

}  // namespace

std::string DestinationGroup::ClosedFirstBy() const {
  if (counts[TcpState::kTimeWait] == 0) return {};
  return direction == Direction::kOutbound ? "this host (client)" : "this host (server)";
}

Census TakeCensus(std::span<const SocketRecord> sockets, const SocketFilter& filter,
                  const PortRange& port_range, int window_seconds) {
  Census census;
  std::vector<bool> listening(65536, false);
  for (const auto& s : sockets) {
    if (s.state == TcpState::kListen) listening[s.local.port] = true;
  }
  for (std::size_t port = 0; port < listening.size(); ++port) {
    if (listening[port]) census.listening_ports.push_back(static_cast<std::uint16_t>(port));
  }

  const std::uint32_t recent_after_ms =
      kTimeWaitMs - static_cast<std::uint32_t>(std::clamp(window_seconds, 1, 60)) * 1000;
  std::unordered_map<Endpoint, std::size_t, EndpointHash> outbound_index, inbound_index;
  std::unordered_map<PressureKey, std::size_t, PressureKeyHash> pressure_index;
  std::vector<GroupScratch> scratch;
  // Sockets of one destination tend to come in runs; remember the last lookup of each map.
  Endpoint last_service;
  Direction last_direction = Direction::kOutbound;
  std::size_t last_group = SIZE_MAX;
  PressureKey last_pressure_key;
  std::size_t last_pressure = SIZE_MAX;

  for (const auto& s : sockets) {
    const bool inbound = s.state != TcpState::kListen && listening[s.local.port];
    const Endpoint& service = inbound ? s.local : s.remote;
    if (!filter.Matches(s, service)) continue;
    census.states.Add(s);
    if (s.state == TcpState::kListen) continue;
    const Direction direction = inbound ? Direction::kInbound : Direction::kOutbound;
    if (s.state == TcpState::kCloseWait) census.close_wait.push_back({s.inode, direction, service});
    if (last_group == SIZE_MAX || direction != last_direction || !(service == last_service)) {
      auto& index = inbound ? inbound_index : outbound_index;
      auto [it, added] = index.try_emplace(service, census.destinations.size());
      if (added) {
        DestinationGroup group;
        group.direction = direction;
        group.service = service;
        census.destinations.push_back(std::move(group));
        scratch.emplace_back();
      }
      last_group = it->second;
      last_service = service;
      last_direction = direction;
    }
    DestinationGroup& group = census.destinations[last_group];
    group.counts.Add(s);
    if (s.state == TcpState::kTimeWait && s.expires_ms > recent_after_ms) ++group.time_wait_recent;
    if (IsLive(s.state) && s.inode != 0) group.live_inodes.push_back(s.inode);

    GroupScratch& g = scratch[last_group];
    const IpAddress& peer = inbound ? s.remote.address : s.local.address;
    if (!g.has_last_peer || !(peer == g.last_peer)) {
      g.peers.insert(peer);
      g.last_peer = peer;
      g.has_last_peer = true;
    }

    if (inbound || !port_range.Contains(s.local.port)) continue;
    PressureKey key{s.local.address, s.remote};
    if (last_pressure == SIZE_MAX || !(key == last_pressure_key)) {
      auto [it, added] = pressure_index.try_emplace(key, census.port_pressure.size());
      if (added) {
        PortPressure p;
        p.local_address = key.local;
        p.remote = key.remote;
        census.port_pressure.push_back(p);
      }
      last_pressure = it->second;
      last_pressure_key = key;
    }
    ++census.port_pressure[last_pressure].ports_held;
  }

  for (std::size_t i = 0; i < census.destinations.size(); ++i) {
    auto& group = census.destinations[i];
    group.peers = scratch[i].peers.size();
    group.close_rate_60s = static_cast<double>(group.counts[TcpState::kTimeWait]) / 60.0;
    group.close_rate_recent =
        static_cast<double>(group.time_wait_recent) / std::clamp(window_seconds, 1, 60);
  }
  std::sort(census.destinations.begin(), census.destinations.end(),
            [](const DestinationGroup& a, const DestinationGroup& b) {
              auto atw = a.counts[TcpState::kTimeWait], btw = b.counts[TcpState::kTimeWait];
              if (atw != btw) return atw > btw;
              if (a.counts.total != b.counts.total) return a.counts.total > b.counts.total;
              return a.service < b.service;
            });

  const std::uint32_t usable = port_range.usable();
  for (auto& p : census.port_pressure) {
    p.usable_ports = usable;
    p.ratio = usable ? static_cast<double>(p.ports_held) / usable : 1.0;
    p.level = p.ratio >= 0.8 ? Level::kCritical : p.ratio >= 0.5 ? Level::kWarning : Level::kOk;
  }
  std::sort(census.port_pressure.begin(), census.port_pressure.end(),
            [](const PortPressure& a, const PortPressure& b) {
              if (a.ports_held != b.ports_held) return a.ports_held > b.ports_held;
              if (a.remote != b.remote) return a.remote < b.remote;
              return a.local_address < b.local_address;
            });
  return census;
}

std::unordered_set<std::uint64_t> InodesToAttribute(const Census& census) {
  std::unordered_set<std::uint64_t> inodes;
  for (const auto& s : census.close_wait) {
    if (s.inode != 0) inodes.insert(s.inode);
  }
  for (const auto& group : census.destinations) {
    if (group.counts[TcpState::kTimeWait] == 0) continue;
    inodes.insert(group.live_inodes.begin(), group.live_inodes.end());
  }
  return inodes;
}

Attribution AttributeSockets(const SocketOwners& owners, Census* census) {
  Attribution result;
  for (auto& group : census->destinations) {
    std::map<int, std::size_t> by_pid;  // pid -> index in group.processes
    for (std::uint64_t inode : group.live_inodes) {
      const ProcessInfo* p = owners.Find(inode);
      if (p == nullptr) continue;
      auto [it, added] = by_pid.try_emplace(p->pid, group.processes.size());
      if (added) group.processes.push_back({*p, 0});
      ++group.processes[it->second].sockets;
    }
    std::sort(group.processes.begin(), group.processes.end(),
              [](const ProcessShare& a, const ProcessShare& b) {
                return a.sockets != b.sockets ? a.sockets > b.sockets
                                              : a.process.pid < b.process.pid;
              });
  }

  std::map<int, std::size_t> by_pid;
  std::vector<std::map<std::pair<Direction, Endpoint>, std::uint64_t>> peers;
  for (const auto& s : census->close_wait) {
    const ProcessInfo* p = s.inode != 0 ? owners.Find(s.inode) : nullptr;
    if (p == nullptr) {
      ++result.close_wait_unattributed;
      continue;
    }
    auto [it, added] = by_pid.try_emplace(p->pid, result.close_wait.size());
    if (added) {
      result.close_wait.push_back({*p, 0, {}});
      peers.emplace_back();
    }
    ++result.close_wait[it->second].count;
    ++peers[it->second][{s.direction, s.service}];
  }
  for (std::size_t i = 0; i < result.close_wait.size(); ++i) {
    for (const auto& [key, count] : peers[i]) {
      result.close_wait[i].peers.push_back({key.first, key.second, count});
    }
    std::stable_sort(result.close_wait[i].peers.begin(), result.close_wait[i].peers.end(),
                     [](const PeerCount& a, const PeerCount& b) { return a.count > b.count; });
  }
  std::sort(result.close_wait.begin(), result.close_wait.end(),
            [](const CloseWaitProcess& a, const CloseWaitProcess& b) {
              return a.count != b.count ? a.count > b.count : a.process.pid < b.process.pid;
            });
  return result;
}

}  // namespace longlink::diag
