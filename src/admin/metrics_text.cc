#include "admin/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <vector>

#include "common/latency_histogram.h"
#include "common/prometheus_text.h"
#include "proxy/pin_reason.h"
#include "proxy/pool_stats.h"

namespace longlink::admin {
namespace {

using proxy::PoolStatsSnapshot;

// Prometheus spells the non-finite values "+Inf", "-Inf" and "NaN"; fmt's "{}" is the shortest
// text that reads back as the same double.
std::string FormatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

// Appends families and samples to one text; `labels` is already escaped ("a=\"x\",b=\"y\"").
class Exposition {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <typename Number>
  void Sample(std::string_view name, std::string_view labels, Number value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    if constexpr (std::is_floating_point_v<Number>) {
      out_ += FormatDouble(value);
    } else {
      fmt::format_to(std::back_inserter(out_), "{}", value);
    }
    out_ += '\n';
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string With(std::string_view labels, std::string_view name, std::string_view value) {
  std::string out(labels);
  if (!out.empty()) out += ',';
  fmt::format_to(std::back_inserter(out), "{}=\"{}\"", name, EscapePrometheusLabel(value));
  return out;
}

std::string_view ModeName(config::PoolMode mode) {
  return mode == config::PoolMode::kTransaction ? "transaction" : "session";
}

// user="...",pool="...",mode="..." of one pool.
std::string PoolLabels(const PoolStatsSnapshot& pool) {
  std::string labels = With("", "user", pool.key.user);
  labels = With(labels, "pool", pool.key.ToString());
  return With(labels, "mode", ModeName(pool.mode));
}

// Counters of a pool that are one field each.
struct PoolCounter {
  std::string_view name;
  std::string_view help;
  std::uint64_t PoolStatsSnapshot::*field;
};

constexpr PoolCounter kPoolCounters[] = {
    {"longlink_pool_server_connects_total",
     "Backend connections this pool opened (logins to the server); client logins minus these "
     "are the server logins pooling saved.",
     &PoolStatsSnapshot::backend_opened},
    {"longlink_pool_logins_total",
     "Client logins served into this pool (COM_CHANGE_USER into it included).",
     &PoolStatsSnapshot::logins},
    {"longlink_pool_commands_total", "Client commands served after login.",
     &PoolStatsSnapshot::commands},
    {"longlink_pool_queries_total", "Client statements served (COM_QUERY and COM_STMT_EXECUTE).",
     &PoolStatsSnapshot::queries},
    {"longlink_pool_transactions_total",
     "Transactions ended: autocommit statements and explicit transactions.",
     &PoolStatsSnapshot::transactions},
    {"longlink_pool_errors_total", "Commands answered with an error (server's or proxy's).",
     &PoolStatsSnapshot::errors},
    {"longlink_pool_client_received_bytes_total",
     "Bytes of MySQL packets read from clients after login (headers included).",
     &PoolStatsSnapshot::bytes_from_clients},
    {"longlink_pool_client_sent_bytes_total",
     "Bytes of MySQL packets written to clients after login (headers included).",
     &PoolStatsSnapshot::bytes_to_clients},
    {"longlink_pool_releases_total",
     "Backend connections clients gave back to the pool between transactions.",
     &PoolStatsSnapshot::releases},
    {"longlink_pool_reattaches_total",
     "Times a client took a backend connection again for its next transaction.",
     &PoolStatsSnapshot::reattaches},
    {"longlink_pool_state_replays_total",
     "Session state restores sent to a backend connection ahead of a client's command.",
     &PoolStatsSnapshot::state_replays},
    {"longlink_pool_state_replay_resets_total",
     "State replays that needed a connection reset first.", &PoolStatsSnapshot::resets_for_replay},
    {"longlink_pool_prepared_statements_asked_total",
     "COM_STMT_PREPARE commands of clients (transaction pooling).",
     &PoolStatsSnapshot::prepares_asked},
    {"longlink_pool_prepared_statements_sent_total",
     "Prepares sent to the server (a client's, or one the proxy made before an execute).",
     &PoolStatsSnapshot::prepares_sent},
    {"longlink_pool_statement_cache_hits_total",
     "Statement commands that found their statement already prepared on the connection.",
     &PoolStatsSnapshot::statement_cache_hits},
    {"longlink_pool_statement_evictions_total",
     "Server-side prepared statements closed to make room for others.",
     &PoolStatsSnapshot::statement_evictions},
};

// Backend connections by state; the same five states for the backend and each pool.
struct StateCounts {
  std::uint32_t opening, idle, checking, moving, active;
};

void ConnectionStates(Exposition& e, std::string_view name, std::string_view labels,
                      const StateCounts& c) {
  e.Sample(name, With(labels, "state", "opening"), c.opening);
  e.Sample(name, With(labels, "state", "idle"), c.idle);
  e.Sample(name, With(labels, "state", "checking"), c.checking);
  e.Sample(name, With(labels, "state", "moving"), c.moving);
  e.Sample(name, With(labels, "state", "active"), c.active);
}

void Histogram(Exposition& e, std::string_view name, std::string_view labels,
               const LatencySnapshot& h) {
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBounds.size(); ++i) {
    cumulative += h.counts[i];
    e.Sample(bucket, With(labels, "le", FormatDouble(kLatencyBounds[i])), cumulative);
  }
  cumulative += h.counts[kLatencyBuckets - 1];
  e.Sample(bucket, With(labels, "le", "+Inf"), cumulative);
  e.Sample(std::string(name) + "_sum", labels, h.sum_seconds());
  e.Sample(std::string(name) + "_count", labels, cumulative);
}

void Process(Exposition& e, const ProcessSnapshot& p) {
  e.Family("longlink_info", "gauge", "Always 1; the version label says which longlink runs.");
  e.Sample("longlink_info", With("", "version", p.version), 1);
  e.Family("longlink_start_time_seconds", "gauge",
           "When the proxy started, in seconds since the Unix epoch.");
  e.Sample("longlink_start_time_seconds", "",
           std::chrono::duration<double>(p.started_at.time_since_epoch()).count());
  e.Family("longlink_uptime_seconds", "gauge", "Seconds since the proxy started.");
  e.Sample("longlink_uptime_seconds", "", p.uptime_seconds);
  e.Family("longlink_workers", "gauge", "Worker threads (event loops) serving clients.");
  e.Sample("longlink_workers", "", p.workers);
  e.Family("longlink_client_connections", "gauge", "Client connections open now.");
  e.Sample("longlink_client_connections", "", p.clients_connected);
  e.Family("longlink_client_connections_max", "gauge",
           "proxy.max_client_connections: client connections beyond it are refused.");
  e.Sample("longlink_client_connections_max", "", p.max_client_connections);
  e.Family("longlink_client_connections_accepted_total", "counter",
           "Client connections accepted and admitted since start.");
  e.Sample("longlink_client_connections_accepted_total", "", p.client_connections);
  e.Family("longlink_client_connections_refused_total", "counter",
           "Client connections refused because max_client_connections was reached.");
  e.Sample("longlink_client_connections_refused_total", "", p.clients_refused);
  e.Family("longlink_login_failures_total", "counter",
           "Failed client logins (wrong password, unknown user, ...).");
  e.Sample("longlink_login_failures_total", "", p.login_failures);
}

void Backend(Exposition& e, const BackendSnapshot& b) {
  e.Family("longlink_backend_up", "gauge",
           "1 if the backend server is reachable (no failed connect since the last success).");
  e.Sample("longlink_backend_up", "", b.reachable ? 1 : 0);
  e.Family("longlink_backend_connects_total", "counter",
           "Backend connections opened since start (all pools).");
  e.Sample("longlink_backend_connects_total", "", b.connects);
  e.Family("longlink_backend_connect_failures_total", "counter",
           "Failed attempts to open a backend connection.");
  e.Sample("longlink_backend_connect_failures_total", "", b.connect_failures);
  e.Family("longlink_backend_wait_timeout_seconds", "gauge",
           "The server's wait_timeout as learnt from the last connection opened (0: not yet).");
  e.Sample("longlink_backend_wait_timeout_seconds", "", b.wait_timeout);
  e.Family("longlink_backend_max_connections", "gauge",
           "backend.max_connections: the most backend connections the proxy opens.");
  e.Sample("longlink_backend_max_connections", "", b.max_connections);
  e.Family("longlink_backend_connections", "gauge",
           "Backend connections of all pools by state (opening, idle, checking: out for a ping, "
           "moving: changing collation, active: serving a client).");
  ConnectionStates(e, "longlink_backend_connections", "",
                   {b.opening, b.idle, b.checking, b.moving, b.active});
}

void Pools(Exposition& e, const std::vector<PoolStatsSnapshot>& pools) {
  std::vector<std::string> labels;
  labels.reserve(pools.size());
  for (const PoolStatsSnapshot& pool : pools) labels.push_back(PoolLabels(pool));

  e.Family("longlink_pool_clients", "gauge",
           "Clients of the pool by state: active (holding a backend connection), waiting (for "
           "one), idle (neither).");
  for (std::size_t i = 0; i < pools.size(); ++i) {
    const PoolStatsSnapshot& p = pools[i];
    const std::int64_t idle =
        std::max<std::int64_t>(0, p.clients - p.clients_holding - p.clients_waiting);
    e.Sample("longlink_pool_clients", With(labels[i], "state", "active"), p.clients_holding);
    e.Sample("longlink_pool_clients", With(labels[i], "state", "waiting"), p.clients_waiting);
    e.Sample("longlink_pool_clients", With(labels[i], "state", "idle"), idle);
  }

  e.Family("longlink_pool_pinned_clients", "gauge",
           "Clients tied to their backend connection, by the reason (docs/PROXY.md).");
  for (std::size_t i = 0; i < pools.size(); ++i) {
    for (std::size_t r = 1; r < proxy::kPinReasonCount; ++r) {
      e.Sample("longlink_pool_pinned_clients",
               With(labels[i], "reason", proxy::PinReasonName(static_cast<proxy::PinReason>(r))),
               pools[i].pinned[r]);
    }
  }

  e.Family("longlink_pool_server_connections", "gauge",
           "Backend connections of the pool by state (opening, idle, checking, moving, active).");
  for (std::size_t i = 0; i < pools.size(); ++i) {
    const PoolStatsSnapshot& p = pools[i];
    ConnectionStates(e, "longlink_pool_server_connections", labels[i],
                     {p.backend_opening, p.backend_idle, p.backend_checking, p.backend_moving,
                      p.backend_active});
  }

  for (const PoolCounter& counter : kPoolCounters) {
    e.Family(counter.name, "counter", counter.help);
    for (std::size_t i = 0; i < pools.size(); ++i) {
      e.Sample(counter.name, labels[i], pools[i].*counter.field);
    }
  }

  e.Family("longlink_pool_longest_wait_seconds", "gauge",
           "How long the longest-waiting client of the pool has waited for a backend "
           "connection so far (0: none waits).");
  for (std::size_t i = 0; i < pools.size(); ++i) {
    e.Sample("longlink_pool_longest_wait_seconds", labels[i],
             static_cast<double>(pools[i].longest_wait_us) / 1e6);
  }

  e.Family("longlink_pool_command_duration_seconds", "histogram",
           "Client commands from the whole command read to the last byte of the reply written.");
  for (std::size_t i = 0; i < pools.size(); ++i) {
    Histogram(e, "longlink_pool_command_duration_seconds", labels[i], pools[i].command_latency);
  }
  e.Family("longlink_pool_checkout_wait_seconds", "histogram",
           "How long clients waited to get a backend connection (checkouts).");
  for (std::size_t i = 0; i < pools.size(); ++i) {
    Histogram(e, "longlink_pool_checkout_wait_seconds", labels[i], pools[i].checkout_wait);
  }
}

}  // namespace

std::string RenderPrometheus(const ProxySnapshot& snapshot) {
  Exposition e;
  Process(e, snapshot.process);
  Backend(e, snapshot.backend);
  Pools(e, snapshot.pools);
  return e.Take();
}

}  // namespace longlink::admin
