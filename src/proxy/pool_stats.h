// Per-pool counters that say what the pooling does and why (docs/PROXY.md, "Transaction
// pooling"): clients, clients holding a backend connection, pinned clients by reason,
// releases, reattaches (a client taking a connection again for its next transaction) and state
// replays (a restore sent ahead of a command). The admin console and metrics read them as
// plain structs (PoolStats::Snapshot).
//
// Sessions update their pool's cell with relaxed atomics (no lock per command); the map of
// cells is locked only when a session starts, changes user or a snapshot is taken.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/latency_histogram.h"
#include "config/proxy_config.h"
#include "pool/pool.h"
#include "pool/pool_key.h"
#include "proxy/pin_reason.h"

namespace longlink::proxy {

// One pool's counters. Gauges (clients, holding, waiting, pinned) go up and down; the rest
// only up.
struct PoolStatsCell {
  std::atomic<std::int64_t> clients{0};
  std::atomic<std::int64_t> clients_holding{0};
  // Clients waiting for a backend connection of this pool (at login, or before a command in
  // transaction pooling).
  std::atomic<std::int64_t> clients_waiting{0};
  // Client logins served into this pool (a COM_CHANGE_USER into it counts too).
  std::atomic<std::uint64_t> logins{0};
  // Client commands served (every command that reached the proxy after login), and of those
  // the statements: COM_QUERY and COM_STMT_EXECUTE.
  std::atomic<std::uint64_t> commands{0};
  std::atomic<std::uint64_t> queries{0};
  // Transactions ended: a statement in autocommit mode outside a transaction, or an explicit
  // transaction's end (the reply's IN_TRANS flag falls), as PgBouncer's xact_count.
  std::atomic<std::uint64_t> transactions{0};
  // Commands answered with an ERR (the server's or the proxy's).
  std::atomic<std::uint64_t> errors{0};
  // Bytes of the MySQL packets (headers included) read from and written to clients after login.
  std::atomic<std::uint64_t> bytes_from_clients{0};
  std::atomic<std::uint64_t> bytes_to_clients{0};
  // How long commands took, from the whole command read to the last byte of the reply written.
  LatencyHistogram command_latency;
  // How long clients waited for a backend connection (checkouts, waits included).
  LatencyHistogram checkout_wait;
  std::array<std::atomic<std::int64_t>, kPinReasonCount> pinned{};
  std::atomic<std::uint64_t> releases{0};
  std::atomic<std::uint64_t> reattaches{0};
  std::atomic<std::uint64_t> state_replays{0};
  std::atomic<std::uint64_t> resets_for_replay{0};  // Replays that needed a reset first.
  // Prepared statements (transaction pooling): COM_STMT_PREPAREs of clients, prepares sent to
  // the server (a client's, or one the proxy made where an execute ran), commands that found
  // their statement prepared on the connection, server statements closed for room.
  std::atomic<std::uint64_t> prepares_asked{0};
  std::atomic<std::uint64_t> prepares_sent{0};
  std::atomic<std::uint64_t> statement_cache_hits{0};
  std::atomic<std::uint64_t> statement_evictions{0};
};

// A pool's counters at one moment, with its backend connections.
struct PoolStatsSnapshot {
  pool::PoolKey key = {};
  config::PoolMode mode = config::PoolMode::kSession;
  std::int64_t clients = 0;
  std::int64_t clients_holding = 0;
  std::array<std::int64_t, kPinReasonCount> pinned = {};  // By PinReason; [kNone] unused.
  std::uint64_t releases = 0;
  std::uint64_t reattaches = 0;
  std::uint64_t state_replays = 0;
  std::uint64_t resets_for_replay = 0;
  std::uint64_t prepares_asked = 0;
  std::uint64_t prepares_sent = 0;
  std::uint64_t statement_cache_hits = 0;
  std::uint64_t statement_evictions = 0;
  std::int64_t clients_waiting = 0;
  std::uint64_t logins = 0;
  std::uint64_t commands = 0;
  std::uint64_t queries = 0;
  std::uint64_t transactions = 0;
  std::uint64_t errors = 0;
  std::uint64_t bytes_from_clients = 0;
  std::uint64_t bytes_to_clients = 0;
  LatencySnapshot command_latency = {};
  LatencySnapshot checkout_wait = {};
  // The pool's backend connections by state (pool::ConnectionRegistry), and how many it has
  // opened since start (client logins served minus these: the server logins pooling saved).
  std::uint32_t backend_idle = 0;
  std::uint32_t backend_active = 0;
  std::uint32_t backend_opening = 0;
  std::uint32_t backend_checking = 0;  // Out for a ping (keepalive or checkout).
  std::uint32_t backend_moving = 0;    // Changing collation for a client of this pool.
  std::uint64_t backend_opened = 0;
  // The longest a client of this pool waits for a connection right now (0: none waits).
  std::uint64_t longest_wait_us = 0;
};

// One line for the log: "pool 'app'/...: 12 clients, 3 holding a connection (pinned:
// user_variable 2), backend 2 idle 3 active; 140 releases, 141 reattaches, 20 state replays
// (3 with a reset); prepared statements: 40 asked, 8 sent to the server, 900 cache hits, 0
// evictions".
std::string DescribePool(const PoolStatsSnapshot& snapshot);

class PoolStats {
 public:
  // The cell of `key`'s pool (made on first use; cells live as long as this object).
  std::shared_ptr<PoolStatsCell> Cell(const pool::PoolKey& key);
  // Every pool's counters; backend connection counts from `pools`. Thread-safe.
  std::vector<PoolStatsSnapshot> Snapshot(const pool::Pools& pools) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<pool::PoolKey, std::shared_ptr<PoolStatsCell>, pool::PoolKeyHash> cells_;
};

}  // namespace longlink::proxy
