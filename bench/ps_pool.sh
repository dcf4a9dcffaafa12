#!/usr/bin/env bash
# Benchmarks server-side prepared statements through the proxy (issue 15): sysbench
# oltp_point_select with --db-ps-mode=auto (each thread prepares its SELECT once with
# COM_STMT_PREPARE, then sends only COM_STMT_EXECUTEs), BENCH_PS_THREADS threads (default
# "8 64"), BENCH_SECONDS each, against the same server:
#   1. direct over TCP (the baseline, as in bench/proxy.sh);
#   2. longlink session pooling over its Unix socket: a backend connection per client (a pool
#      of threads + 8), the statements relayed with the server's ids;
#   3. longlink transaction pooling over its Unix socket, a pool of BENCH_PS_POOL_SIZE
#      (default 4) backend connections shared by all threads: the proxy's own statement ids,
#      each statement prepared once per backend connection.
# A fresh proxy for each run, stopped after it (its stop line has the counters). For each run:
# queries/s and the ratio to direct; what the server prepared (the delta of its
# Com_stmt_prepare, and per second of the run); sysbench's ignored errors and reconnects; and
# through the proxy its pool's counters at stop ("prepared statements: A asked, S sent to the
# server, H cache hits, E evictions"; "-" from a proxy without them). A run whose client
# fails (a proxy that pins every session that prepares cannot serve 64 threads on 4
# connections) is reported as failed with sysbench's first error, and the others go on. Then,
# as bench/proxy.sh, the CPU time and context switches per query of client, server and proxy
# over the middle of each run.
# Usage: sudo bash bench/ps_pool.sh (BENCH_SECONDS=N per run, default 10, at least 4;
# BENCH_PS_THREADS, BENCH_PS_POOL_SIZE, BENCH_PS_MODE=disable for text queries). Installs and builds first (BENCH_NO_BUILD=1: uses
# build/ as is; BENCH_LONGLINK_BIN: another binary). Shared parts: bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
thread_counts=${BENCH_PS_THREADS:-8 64}
pool_size=${BENCH_PS_POOL_SIZE:-4}
# disable: the same queries as text (COM_QUERY), to tell the prepared statements' own cost from
# transaction pooling's.
ps_mode=${BENCH_PS_MODE:-auto}
if ((seconds < 4)); then
  echo "BENCH_SECONDS: at least 4 (a second each side of the measured window), not $seconds" >&2
  exit 2
fi

start_server
root() { mariadb --no-defaults -S "$work/mysqld.sock" -uroot -N -B -e "$1"; }
status() { root "SHOW GLOBAL STATUS LIKE '$1'" | awk '{print $2}'; }
sb=(sysbench oltp_point_select --db-driver=mysql --mysql-user=app --mysql-password=app-secret
  --mysql-db=sbtest --tables=1 --table-size=10000 --db-ps-mode="$ps_mode")
"${sb[@]}" --mysql-host=127.0.0.1 --mysql-port=$port prepare >/dev/null
root "SELECT COUNT(*) FROM sbtest.sbtest1" >/dev/null # In the buffer pool for every run.

# start_proxy NAME ARGS...: a proxy on $work/proxy.sock with ARGS (pool mode and size), its
# stderr in $work/proxy-NAME.log; sets proxy_pid.
start_proxy() {
  local name=$1
  shift
  rm -f "$work/proxy.sock"
  "$bin" proxy --backend "127.0.0.1:$port" --unix-socket "$work/proxy.sock" \
    --user app:app-secret --max-clients 20000 "$@" 2>"$work/proxy-$name.log" &
  proxy_pid=$!
  for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done
  if ! kill -0 "$proxy_pid" 2>/dev/null || [[ ! -S $work/proxy.sock ]]; then
    echo "the proxy did not start; its log:" >&2
    cat "$work/proxy-$name.log" >&2
    exit 1
  fi
}
# stop_proxy NAME: SIGTERM; sets `counters` from the stop line of the app pool (its
# prepared-statement counters, "-" if it has none).
stop_proxy() {
  kill "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  proxy_pid=
  local line
  line=$(grep -E "pool 'app'/" "$work/proxy-$1.log" | tail -n 1 || true)
  counters=-
  if [[ $line == *"prepared statements: "* ]]; then
    counters=${line##*prepared statements: }
  fi
}

rows=()
# run NAME LABEL THREADS PROXY_PID|- TARGET_ARGS...: sysbench with THREADS against TARGET_ARGS
# for BENCH_SECONDS, CPU read from /proc as lib.sh's measure does (1 s after the start to 1 s
# before the end); adds a row to `rows` and, if the client succeeded, to split_rows.
run() {
  local name=$1 label=$2 threads=$3 proxy=$4
  shift 4
  local out=$work/sb-$name.out prepares_before start client
  prepares_before=$(status Com_stmt_prepare)
  start=$EPOCHREALTIME
  "${sb[@]}" "$@" --threads="$threads" --time="$seconds" run >"$out" 2>&1 &
  client=$!
  sleep 1
  local before=() after=() pid from to
  from=$EPOCHREALTIME
  for pid in "$client" "$db_pid" "$proxy"; do
    if [[ $pid == - ]] || ! kill -0 "$pid" 2>/dev/null; then before+=("0 0"); else
      before+=("$(usage "$pid")"); fi
  done
  sleep "$(awk -v s="$start" -v n="$seconds" -v now="$EPOCHREALTIME" \
    'BEGIN { d = s + n - 1 - now; printf "%.3f", (d > 0 ? d : 0) }')"
  to=$EPOCHREALTIME
  for pid in "$client" "$db_pid" "$proxy"; do
    if [[ $pid == - ]] || ! kill -0 "$pid" 2>/dev/null; then after+=("0 0"); else
      after+=("$(usage "$pid")"); fi
  done
  local exit_status=0
  wait "$client" || exit_status=$?
  local prepares=$(($(status Com_stmt_prepare) - prepares_before))
  local rate errors reconnects
  rate=$(awk '/queries:/ {sub(/\(/, "", $3); print $3; exit}' "$out")
  errors=$(awk '/ignored errors:/ {print $3; exit}' "$out")
  reconnects=$(awk '/reconnects:/ {print $2; exit}' "$out")
  if ((exit_status != 0)) || [[ -z $rate ]]; then
    local why
    why=$(grep -m 1 -E 'FATAL|error' "$out" | cut -c 1-100 | tr '|' '/' || true)
    rows+=("$label|$threads|failed (exit $exit_status: ${why:-no result})|-|$prepares|-|-")
    return
  fi
  rate=$(printf '%.0f' "$rate")
  local window
  window=$(awk -v a="$from" -v b="$to" 'BEGIN { print b - a }')
  split_row "$label, $threads threads" queries "$rate" "$window" "${before[*]}" \
    "${after[*]}" "$([[ $proxy == - ]] && echo 1)"
  local per_second
  per_second=$(awk -v p="$prepares" -v s="$seconds" 'BEGIN { printf "%.1f", p / s }')
  rows+=("$label|$threads|$rate|RATIO|$prepares|$per_second|$errors, $reconnects")
  printf -v "qps_${name}" '%s' "$rate"
}

for threads in $thread_counts; do
  run "direct_$threads" "Direct TCP" "$threads" - --mysql-host=127.0.0.1 --mysql-port=$port
  start_proxy "session_$threads" --pool-size $((threads + 8))
  run "session_$threads" "longlink session pooling, Unix socket" "$threads" "$proxy_pid" \
    --mysql-socket="$work/proxy.sock"
  stop_proxy "session_$threads"
  session_counters=$counters
  start_proxy "transaction_$threads" --pool-mode transaction --pool-size "$pool_size"
  run "transaction_$threads" "longlink transaction pooling (pool of $pool_size), Unix socket" \
    "$threads" "$proxy_pid" --mysql-socket="$work/proxy.sock"
  stop_proxy "transaction_$threads"
  # The proxy's counters go with the last two rows.
  rows[-2]+="|$session_counters"
  rows[-1]+="|$counters"
  rows[-3]+="|-"
done

echo
echo "| Run (sysbench oltp_point_select, --db-ps-mode=$ps_mode, ${seconds} s) | Threads |" \
  "Queries/s | Ratio to direct | Server prepares (Com_stmt_prepare) | per second |" \
  "Ignored errors, reconnects | Proxy's counters at stop |"
echo "|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  IFS='|' read -r label threads rate _ prepares per_second errors counters <<<"$row"
  direct=qps_direct_$threads
  ratio=-
  if [[ $rate =~ ^[0-9]+$ && -n ${!direct:-} ]]; then ratio=$(ratio "$rate" "${!direct}"); fi
  echo "| $label | $threads | $rate | $ratio | $prepares | $per_second | $errors | $counters |"
done
echo
print_split_table
