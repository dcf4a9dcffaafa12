#!/usr/bin/env bash
# Benchmarks `longlink proxy` against direct MariaDB, in one run on this machine:
#   1. short sessions/s (connect, SELECT 1, quit; 8 threads of a libmariadb client,
#      bench/short_sessions.cc): direct TCP (the baseline), direct Unix socket, proxy TCP, proxy
#      Unix socket;
#   2. persistent point selects (sysbench oltp_point_select, 8 threads): direct vs proxy;
#   3. RSS per idle client with 10,000 idle clients on the Unix socket (bench/idle_clients.cc),
#      each holding its backend connection (session pooling), against what each of those
#      connections costs the server; and the proxy's CPU while they idle. Then the same in
#      transaction pooling (a pool of 16; an idle client holds no backend connection), with as
#      many clients as the descriptor limit allows (up to 20,000).
# Prints a markdown table of ratios against direct, then where the CPU goes: for each rate
# measurement, the CPU time and context switches per unit of work (session or query) of the
# client, the server and the proxy, read from /proc over the middle of the run.
# Usage: sudo bash bench/proxy.sh (BENCH_SECONDS=N per measurement, default 10, at least 4).
# Installs and builds first (BENCH_NO_BUILD=1: uses build/ as is). Shared parts: bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
# 10,000 idle clients need, in the proxy, a descriptor for each client and each backend
# connection: 20,000 and more. Raise the limit if allowed; below that, fewer clients (the
# table says how many).
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
idle_clients=$(( ($(ulimit -n) - 200) / 2 ))
(( idle_clients > 10000 )) && idle_clients=10000
start_server
# Loopback TIME_WAIT reuse would let the direct run recycle ports; keep the defaults otherwise.
"$bin" proxy --backend 127.0.0.1:$port --listen 127.0.0.1:26033 --unix-socket "$work/proxy.sock" \
  --user app:app-secret --pool-size 16 --min-idle 8 --max-clients 20000 2>"$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done

rate() { measure "$1" sessions "$2" "$sessions_bin" "${@:3}" 8 "$seconds"; }
rate "Short sessions, direct TCP" - --tcp 127.0.0.1:$port
direct_sessions=$measured
rate "Short sessions, direct Unix socket" - --socket "$work/mysqld.sock"
direct_unix_sessions=$measured
rate "Short sessions, longlink TCP" "$proxy_pid" --tcp 127.0.0.1:26033
proxy_tcp_sessions=$measured
rate "Short sessions, longlink Unix socket" "$proxy_pid" --socket "$work/proxy.sock"
proxy_unix_sessions=$measured

sb=(sysbench oltp_point_select --db-driver=mysql --mysql-user=app --mysql-password=app-secret
  --mysql-db=sbtest --tables=1 --table-size=10000)
"${sb[@]}" --mysql-host=127.0.0.1 --mysql-port=$port prepare >/dev/null
qps() { measure "$1" queries "$2" "${sb[@]}" "${@:3}" --threads=8 --time="$seconds" run; }
qps "Point selects, direct TCP" - --mysql-host=127.0.0.1 --mysql-port=$port
direct_qps=$measured
qps "Point selects, longlink Unix socket" "$proxy_pid" --mysql-socket="$work/proxy.sock"
proxy_qps=$measured

rss() { awk '/VmRSS/ {print $2}' /proc/"$1"/status; }
# idle_rss COUNT PROXY_ARGS...: a proxy (proxy_pid) with PROXY_ARGS on $work/proxy.sock; COUNT
# idle clients (each logged in, SELECT 1 answered, then idle); sets proxy_per_client and
# db_per_client (RSS growth per client, bytes) and idle_cpu (the proxy's CPU over 10 s while
# they idle, as a share of one core). The clients leave and the proxy stops at the end.
idle_rss() {
  local count=$1; shift
  kill "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  rm -f "$work/proxy.sock" "$work/hold"
  "$bin" proxy --backend 127.0.0.1:$port --unix-socket "$work/proxy.sock" \
    --user app:app-secret "$@" --max-clients 30000 2>"$work/proxy-idle.log" &
  proxy_pid=$!
  for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done
  "$sessions_bin" --socket "$work/proxy.sock" 1 1 >/dev/null  # warm: one session, one backend
  sleep 1
  local proxy_before db_before proxy_after db_after idle_pid
  proxy_before=$(rss "$proxy_pid")
  db_before=$(rss "$db_pid")
  mkfifo "$work/hold"
  exec 3<>"$work/hold"  # the idle clients hold their connections until this closes
  "$idle_bin" --socket "$work/proxy.sock" "$count" <"$work/hold" >"$work/idle.out" 3>&- &
  idle_pid=$!
  until grep -q connected "$work/idle.out" 2>/dev/null; do
    kill -0 "$idle_pid" 2>/dev/null || { echo "idle clients failed" >&2; exit 1; }
    sleep 0.2
  done
  sleep 2
  proxy_after=$(rss "$proxy_pid")
  db_after=$(rss "$db_pid")
  # What the idle clients cost the proxy in CPU: ticks over 10 s, as a share of one core.
  local before after ticks
  before=$(usage "$proxy_pid")
  sleep 10
  after=$(usage "$proxy_pid")
  ticks=$((${after%% *} - ${before%% *}))
  idle_cpu=$(awk -v t="$ticks" -v hz="$clock_ticks" 'BEGIN { printf "%.1f%%", t / hz / 10 * 100 }')
  exec 3>&-  # the idle clients quit
  wait "$idle_pid" || true
  proxy_per_client=$(( (proxy_after - proxy_before) * 1024 / count ))
  db_per_client=$(( (db_after - db_before) * 1024 / count ))
}

# 10,000 idle clients, each holding a backend connection (session pooling): a proxy whose pool
# has room for them. RSS (proxy and server) before and after, divided by the clients.
idle_rss "$idle_clients" --pool-size 10100 --max-backend-connections 10100 --min-idle 0
session_proxy_per_client=$proxy_per_client
session_db_per_client=$db_per_client
session_idle_cpu=$idle_cpu
# Transaction pooling: an idle client holds no backend connection, so one descriptor each: as
# many clients as the descriptor limit allows (up to 20,000), on a pool of 16.
txn_idle_clients=$(( $(ulimit -n) - 200 ))
(( txn_idle_clients > 20000 )) && txn_idle_clients=20000
idle_rss "$txn_idle_clients" --pool-mode transaction --pool-size 16 --min-idle 4
txn_proxy_per_client=$proxy_per_client
txn_idle_cpu=$idle_cpu

echo
echo "| Measure | Direct | Through longlink | Ratio |"
echo "|---|---|---|---|"
echo "| Short sessions/s, TCP (8 clients) | $direct_sessions | $proxy_tcp_sessions | $(ratio "$proxy_tcp_sessions" "$direct_sessions") |"
echo "| Short sessions/s, Unix socket (8 clients) | $direct_sessions (TCP) | $proxy_unix_sessions | $(ratio "$proxy_unix_sessions" "$direct_sessions") |"
echo "| (baseline check) Short sessions/s direct over MariaDB's Unix socket | $direct_sessions (TCP) | $direct_unix_sessions (direct) | $(ratio "$direct_unix_sessions" "$direct_sessions") |"
echo "| Point selects/s, sysbench (8 threads) | $direct_qps | $proxy_qps | $(ratio "$proxy_qps" "$direct_qps") |"
echo "| RSS per idle client ($idle_clients clients, each with its backend connection) | $session_db_per_client bytes (server, per connection) | $session_proxy_per_client bytes | $(ratio "$session_proxy_per_client" "$session_db_per_client") |"
echo "| CPU of the proxy while those clients idle (share of one core, 10 s) | - | $session_idle_cpu | - |"
echo "| RSS per idle client, transaction pooling ($txn_idle_clients clients, a pool of 16) | $session_db_per_client bytes (server, per connection, above) | $txn_proxy_per_client bytes | $(ratio "$txn_proxy_per_client" "$session_db_per_client") |"
echo "| CPU of the proxy while those clients idle (share of one core, 10 s) | - | $txn_idle_cpu | - |"
echo
print_split_table
