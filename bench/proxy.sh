#!/usr/bin/env bash
# Benchmarks `longlink proxy` against direct MariaDB, in one run on this machine:
#   1. short sessions/s (connect, SELECT 1, quit; 8 threads of a libmariadb client,
#      bench/short_sessions.cc): direct TCP (the baseline), direct Unix socket, proxy TCP, proxy
#      Unix socket;
#   2. persistent point selects (sysbench oltp_point_select, 8 threads): direct vs proxy;
#   3. RSS per idle client with 10,000 idle clients on the Unix socket (bench/idle_clients.cc),
#      each holding its backend connection (session pooling), against what each of those
#      connections costs the server; and the proxy's CPU while they idle.
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

# 10,000 idle clients, each holding a backend connection: a proxy whose pool has room for
# them. RSS (proxy and server) before and after, divided by the clients.
kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true
rm -f "$work/proxy.sock"
"$bin" proxy --backend 127.0.0.1:$port --unix-socket "$work/proxy.sock" \
  --user app:app-secret --pool-size 10100 --max-backend-connections 10100 --min-idle 0 \
  --max-clients 20000 2>"$work/proxy2.log" &
proxy_pid=$!
for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done
"$sessions_bin" --socket "$work/proxy.sock" 1 1 >/dev/null  # warm: one session, one backend
rss() { awk '/VmRSS/ {print $2}' /proc/"$1"/status; }
sleep 1
proxy_rss_before=$(rss "$proxy_pid")
db_rss_before=$(rss "$db_pid")
mkfifo "$work/hold"
exec 3<>"$work/hold"  # the idle clients hold their connections until this closes
"$idle_bin" --socket "$work/proxy.sock" "$idle_clients" <"$work/hold" >"$work/idle.out" 3>&- &
idle_pid=$!
until grep -q connected "$work/idle.out" 2>/dev/null; do
  kill -0 "$idle_pid" 2>/dev/null || { echo "idle clients failed" >&2; exit 1; }
  sleep 0.2
done
sleep 2
proxy_rss_after=$(rss "$proxy_pid")
db_rss_after=$(rss "$db_pid")
# What the idle clients cost the proxy in CPU: ticks over 10 s, as a share of one core.
idle_before=$(usage "$proxy_pid")
sleep 10
idle_after=$(usage "$proxy_pid")
idle_ticks=$((${idle_after%% *} - ${idle_before%% *}))
idle_cpu=$(awk -v t="$idle_ticks" -v hz="$clock_ticks" 'BEGIN { printf "%.1f%%", t / hz / 10 * 100 }')
exec 3>&-  # the idle clients quit
wait "$idle_pid" || true
per_client() { echo $(( ($2 - $1) * 1024 / idle_clients )); }
proxy_per_client=$(per_client "$proxy_rss_before" "$proxy_rss_after")
db_per_client=$(per_client "$db_rss_before" "$db_rss_after")

echo
echo "| Measure | Direct | Through longlink | Ratio |"
echo "|---|---|---|---|"
echo "| Short sessions/s, TCP (8 clients) | $direct_sessions | $proxy_tcp_sessions | $(ratio "$proxy_tcp_sessions" "$direct_sessions") |"
echo "| Short sessions/s, Unix socket (8 clients) | $direct_sessions (TCP) | $proxy_unix_sessions | $(ratio "$proxy_unix_sessions" "$direct_sessions") |"
echo "| (baseline check) Short sessions/s direct over MariaDB's Unix socket | $direct_sessions (TCP) | $direct_unix_sessions (direct) | $(ratio "$direct_unix_sessions" "$direct_sessions") |"
echo "| Point selects/s, sysbench (8 threads) | $direct_qps | $proxy_qps | $(ratio "$proxy_qps" "$direct_qps") |"
echo "| RSS per idle client ($idle_clients clients, each with its backend connection) | $db_per_client bytes (server, per connection) | $proxy_per_client bytes | $(ratio "$proxy_per_client" "$db_per_client") |"
echo "| CPU of the proxy while those clients idle (share of one core, 10 s) | - | $idle_cpu | - |"
echo
print_split_table
