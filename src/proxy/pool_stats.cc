#include "proxy/pool_stats.h"

namespace longlink::proxy {

std::string DescribePool(const PoolStatsSnapshot& snapshot) {
  std::string pinned;
  for (std::size_t i = 1; i < kPinReasonCount; ++i) {
    if (snapshot.pinned[i] == 0) continue;
    pinned += pinned.empty() ? " (pinned: " : ", ";
    pinned += std::string(PinReasonName(static_cast<PinReason>(i))) + " " +
              std::to_string(snapshot.pinned[i]);
  }
  if (!pinned.empty()) pinned += ")";
  return "pool " + snapshot.key.ToString() + ": " + std::to_string(snapshot.clients) +
         " clients, " + std::to_string(snapshot.clients_holding) + " holding a connection" +
         pinned + ", backend " + std::to_string(snapshot.backend_idle) + " idle " +
         std::to_string(snapshot.backend_active) + " active; " + std::to_string(snapshot.releases) +
         " releases, " + std::to_string(snapshot.reattaches) + " reattaches, " +
         std::to_string(snapshot.state_replays) + " state replays (" +
         std::to_string(snapshot.resets_for_replay) +
         " with a reset); prepared statements: " + std::to_string(snapshot.prepares_asked) +
         " asked, " + std::to_string(snapshot.prepares_sent) + " sent to the server, " +
         std::to_string(snapshot.statement_cache_hits) + " cache hits, " +
         std::to_string(snapshot.statement_evictions) + " evictions";
}

std::shared_ptr<PoolStatsCell> PoolStats::Cell(const pool::PoolKey& key) {
  std::lock_guard lock(mutex_);
  auto& cell = cells_[key];
  if (!cell) cell = std::make_shared<PoolStatsCell>();
  return cell;
}

std::vector<PoolStatsSnapshot> PoolStats::Snapshot(const pool::Pools& pools) const {
  std::vector<PoolStatsSnapshot> out;
  std::lock_guard lock(mutex_);
  out.reserve(cells_.size());
  constexpr auto kRelaxed = std::memory_order_relaxed;
  for (const auto& [key, cell] : cells_) {
    PoolStatsSnapshot snapshot;
    snapshot.key = key;
    snapshot.mode =
        key.transaction_pooling ? config::PoolMode::kTransaction : config::PoolMode::kSession;
    snapshot.clients = cell->clients.load(kRelaxed);
    snapshot.clients_holding = cell->clients_holding.load(kRelaxed);
    for (std::size_t i = 0; i < kPinReasonCount; ++i) {
      snapshot.pinned[i] = cell->pinned[i].load(kRelaxed);
    }
    snapshot.releases = cell->releases.load(kRelaxed);
    snapshot.reattaches = cell->reattaches.load(kRelaxed);
    snapshot.state_replays = cell->state_replays.load(kRelaxed);
    snapshot.resets_for_replay = cell->resets_for_replay.load(kRelaxed);
    snapshot.prepares_asked = cell->prepares_asked.load(kRelaxed);
    snapshot.prepares_sent = cell->prepares_sent.load(kRelaxed);
    snapshot.statement_cache_hits = cell->statement_cache_hits.load(kRelaxed);
    snapshot.statement_evictions = cell->statement_evictions.load(kRelaxed);
    snapshot.clients_waiting = cell->clients_waiting.load(kRelaxed);
    snapshot.logins = cell->logins.load(kRelaxed);
    snapshot.commands = cell->commands.load(kRelaxed);
    snapshot.queries = cell->queries.load(kRelaxed);
    snapshot.transactions = cell->transactions.load(kRelaxed);
    snapshot.errors = cell->errors.load(kRelaxed);
    snapshot.bytes_from_clients = cell->bytes_from_clients.load(kRelaxed);
    snapshot.bytes_to_clients = cell->bytes_to_clients.load(kRelaxed);
    snapshot.command_latency = cell->command_latency.Snapshot();
    snapshot.checkout_wait = cell->checkout_wait.Snapshot();
    const pool::ConnectionCountsByState counts = pools.CountByState(key);
    snapshot.backend_idle = counts.idle;
    snapshot.backend_active = counts.active;
    snapshot.backend_opening = counts.opening;
    snapshot.backend_checking = counts.checking;
    snapshot.backend_moving = counts.moving;
    snapshot.backend_opened = counts.opened;
    snapshot.longest_wait_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(counts.longest_wait).count());
    out.push_back(snapshot);
  }
  return out;
}

}  // namespace longlink::proxy
