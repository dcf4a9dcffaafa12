#include "diag/census.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "diag/analysis.h"

namespace longlink::diag {
namespace {

bool IsLive(TcpState state) {
  return state == TcpState::kEstablished || state == TcpState::kSynSent;
}

std::uint64_t Mix(std::uint64_t h) {  // the murmur3 finalizer: spreads every input bit
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::string DestinationGroup::ClosedFirstBy() const {
  if (counts[TcpState::kTimeWait] == 0) return {};
  return direction == Direction::kOutbound ? "this host (client)" : "this host (server)";
}

std::size_t CensusBuilder::ServiceHash::operator()(const Endpoint& e) const {
  return static_cast<std::size_t>(Mix(IpAddressHash()(e.address) * 31 + e.port));
}

CensusBuilder::CensusBuilder(const SocketFilter& filter, const PortRange& port_range,
                             int window_seconds)
    : filter_(filter),
      port_range_(port_range),
      window_seconds_(std::clamp(window_seconds, 1, 60)),
      recent_after_ms_(kTimeWaitMs - static_cast<std::uint32_t>(window_seconds_) * 1000),
      listening_(65536 / 64, 0) {}

void CensusBuilder::Clear() {
  census_ = Census{};
  std::fill(listening_.begin(), listening_.end(), 0);
  outbound_index_.clear();
  inbound_index_.clear();
  ports_held_.Clear();
  last_group_ = UINT32_MAX;
}

std::uint32_t CensusBuilder::GroupOf(Direction direction, const Endpoint& service) {
  if (last_group_ != UINT32_MAX && direction == last_direction_ && service == last_service_) {
    return last_group_;
  }
  auto& index = direction == Direction::kInbound ? inbound_index_ : outbound_index_;
  auto [it, added] =
      index.try_emplace(service, static_cast<std::uint32_t>(census_.destinations.size()));
  if (added) {
    DestinationGroup group;
    group.direction = direction;
    group.service = service;
    census_.destinations.push_back(std::move(group));
  }
  last_direction_ = direction;
  last_service_ = service;
  last_group_ = it->second;
  return last_group_;
}

void CensusBuilder::Add(const SocketRecord& s) {
  if (s.state == TcpState::kListen) {
    listening_[s.local.port / 64] |= std::uint64_t{1} << (s.local.port % 64);
    if (filter_.Matches(s, s.remote)) census_.states.Add(s);  // a listener serves no one yet
    return;
  }
  const bool inbound = IsListening(s.local.port);
  const Endpoint& service = inbound ? s.local : s.remote;
  if (!filter_.Matches(s, service)) return;
  census_.states.Add(s);

  const std::uint32_t g = GroupOf(inbound ? Direction::kInbound : Direction::kOutbound, service);
  DestinationGroup& group = census_.destinations[g];
  group.counts.Add(s);
  if (s.state == TcpState::kTimeWait) {
    if (s.expires_ms > recent_after_ms_) ++group.time_wait_recent;
  } else if (s.inode != 0 && IsLive(s.state)) {
    if (group.live_inodes.size() < kLiveInodesPerGroup) group.live_inodes.push_back(s.inode);
  } else if (s.state == TcpState::kCloseWait) {
    if (census_.close_wait.size() < kCloseWaitSocketsKept) {
      census_.close_wait.push_back({s.inode, g});
    } else {
      ++census_.close_wait_not_kept;
    }
  }

  std::uint64_t& ports_held = ports_held_.At(g, inbound ? s.remote.address : s.local.address);
  if (!inbound && port_range_.Contains(s.local.port)) ++ports_held;
}

Census CensusBuilder::Finish() {
  Census census = std::move(census_);
  for (std::size_t port = 0; port < 65536; ++port) {
    if (IsListening(static_cast<std::uint16_t>(port))) {
      census.listening_ports.push_back(static_cast<std::uint16_t>(port));
    }
  }

  const std::uint32_t usable = port_range_.usable();
  ports_held_.ForEach([&](const PeerCounts::Entry& e) {
    DestinationGroup& group = census.destinations[e.group];
    ++group.peers;
    if (group.direction != Direction::kOutbound || e.count == 0) return;
    PortPressure p;
    p.local_address = e.peer;
    p.remote = group.service;
    p.ports_held = e.count;
    p.usable_ports = usable;
    p.ratio = usable ? static_cast<double>(e.count) / usable : 1.0;
    p.level = p.ratio >= 0.8 ? Level::kCritical : p.ratio >= 0.5 ? Level::kWarning : Level::kOk;
    census.port_pressure.push_back(p);
  });
  std::sort(census.port_pressure.begin(), census.port_pressure.end(),
            [](const PortPressure& a, const PortPressure& b) {
              if (a.ports_held != b.ports_held) return a.ports_held > b.ports_held;
              if (a.remote != b.remote) return a.remote < b.remote;
              return a.local_address < b.local_address;
            });

  for (auto& group : census.destinations) {
    group.close_rate_60s = static_cast<double>(group.counts[TcpState::kTimeWait]) / 60.0;
    group.close_rate_recent = static_cast<double>(group.time_wait_recent) / window_seconds_;
  }
  // Sort through an order of indices, so that CLOSE_WAIT sockets can follow their groups.
  std::vector<std::uint32_t> order(census.destinations.size());
  std::iota(order.begin(), order.end(), 0u);
  const auto& groups = census.destinations;
  std::sort(order.begin(), order.end(), [&groups](std::uint32_t ia, std::uint32_t ib) {
    const DestinationGroup &a = groups[ia], &b = groups[ib];
    auto atw = a.counts[TcpState::kTimeWait], btw = b.counts[TcpState::kTimeWait];
    if (atw != btw) return atw > btw;
    if (a.counts.total != b.counts.total) return a.counts.total > b.counts.total;
    if (a.service != b.service) return a.service < b.service;
    return a.direction < b.direction;
  });
  std::vector<std::uint32_t> new_index(order.size());
  std::vector<DestinationGroup> sorted;
  sorted.reserve(order.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) {
    new_index[order[i]] = i;
    sorted.push_back(std::move(census.destinations[order[i]]));
  }
  census.destinations = std::move(sorted);
  for (auto& s : census.close_wait) s.group = new_index[s.group];

  Clear();
  return census;
}

Census TakeCensus(std::span<const SocketRecord> sockets, const SocketFilter& filter,
                  const PortRange& port_range, int window_seconds) {
  CensusBuilder builder(filter, port_range, window_seconds);
  for (const auto& s : sockets) {
    if (s.state == TcpState::kListen) builder.Add(s);
  }
  for (const auto& s : sockets) {
    if (s.state != TcpState::kListen) builder.Add(s);
  }
  return builder.Finish();
}

std::unordered_set<std::uint64_t> InodesToAttribute(const Census& census) {
  std::unordered_set<std::uint64_t> inodes;
  for (const auto& s : census.close_wait) {
    if (s.inode != 0) inodes.insert(s.inode);
  }
  for (const auto& group : census.destinations) {
    if (!ChurnSeverity(group, census.port_pressure)) continue;
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

  result.close_wait_unattributed = census->close_wait_not_kept;
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
    const DestinationGroup& group = census->destinations[s.group];
    ++result.close_wait[it->second].count;
    ++peers[it->second][{group.direction, group.service}];
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
