// A ProxySnapshot with two pools (one session, one transaction pooling) and every figure set to
// a distinct value, for the renderer and dashboard tests.
#pragma once

#include <chrono>

#include "admin/proxy_snapshot.h"
#include "proxy/pin_reason.h"

namespace longlink::admin::testing {

inline proxy::PoolStatsSnapshot SamplePool(std::string user, bool transaction_pooling) {
  proxy::PoolStatsSnapshot p;
  p.key.user = std::move(user);
  p.key.collation = 45;
  p.key.capabilities = 0x1a0002;
  p.key.transaction_pooling = transaction_pooling;
  p.mode = transaction_pooling ? config::PoolMode::kTransaction : config::PoolMode::kSession;
  p.clients = 10;
  p.clients_holding = 3;
  p.clients_waiting = 2;
  p.pinned[static_cast<std::size_t>(proxy::PinReason::kUserVariable)] = 2;
  p.pinned[static_cast<std::size_t>(proxy::PinReason::kLastInsertId)] = 1;
  p.releases = 140;
  p.reattaches = 141;
  p.state_replays = 20;
  p.resets_for_replay = 3;
  p.prepares_asked = 40;
  p.prepares_sent = 8;
  p.statement_cache_hits = 900;
  p.statement_evictions = 1;
  p.logins = 1000;
  p.commands = 5000;
  p.queries = 4000;
  p.transactions = 3000;
  p.errors = 7;
  p.bytes_from_clients = 123456;
  p.bytes_to_clients = 654321;
  p.command_latency.counts = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  p.command_latency.count = 120;
  p.command_latency.sum_us = 2'500'000;
  p.checkout_wait.counts[0] = 900;
  p.checkout_wait.counts[14] = 1;
  p.checkout_wait.count = 901;
  p.checkout_wait.sum_us = 6'000'123;
  p.backend_opening = 1;
  p.backend_idle = 4;
  p.backend_checking = 0;
  p.backend_moving = 0;
  p.backend_active = 3;
  p.backend_opened = 12;
  p.longest_wait_us = 250'000;
  return p;
}

inline ProxySnapshot SampleSnapshot() {
  ProxySnapshot s;
  s.process.version = "0.1.0";
  s.process.pid = 4242;
  s.process.started_at = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  s.process.uptime_seconds = 3600.5;
  s.process.workers = 2;
  s.process.clients_connected = 20;
  s.process.client_connections = 2000;
  s.process.clients_refused = 5;
  s.process.login_failures = 9;
  s.process.max_client_connections = 10000;
  s.backend.address = "127.0.0.1:3306";
  s.backend.reachable = false;
  s.backend.down_seconds = 12;
  s.backend.connects = 24;
  s.backend.connect_failures = 6;
  s.backend.wait_timeout = 28800;
  s.backend.max_connections = 100;
  s.pools = {SamplePool("app", false), SamplePool("batch", true)};
  s.backend.opening = 2;
  s.backend.idle = 8;
  s.backend.active = 6;
  return s;
}

}  // namespace longlink::admin::testing
