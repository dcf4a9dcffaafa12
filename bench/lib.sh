# shellcheck shell=bash
# Shared by bench/proxy.sh, bench/tls.sh and bench/txn_pool.sh; sourced from the checkout's root
# (set -euo pipefail on). On sourcing: installs and builds (BENCH_NO_BUILD=1: use build/ as is),
# sets bin (BENCH_LONGLINK_BIN: another longlink binary than build/src/longlink), sessions_bin,
# idle_bin, txn_bin (BENCH_TXN_BIN: another than build/bench/txn_clients), a scratch directory
# `work` (removed at exit, with the server, the proxy and the processes in helper_pids, by the
# EXIT trap), `seconds`
# (BENCH_SECONDS per measurement, default 10) and the server's `port`. Then:
#   start_server [MARIADBD ARGS...]  a throwaway MariaDB on 127.0.0.1:$port and
#                                    $work/mysqld.sock (db_pid), with the benchmark's
#                                    databases and user app/app-secret;
#   restart_server                   a fresh mariadbd process on the same data and arguments
#                                    (for figures, such as RSS, that an earlier run marks);
#   measure ...                      runs a client, sets `measured`, adds a row to split_rows;
#   print_split_table                prints those rows;
#   (split_extra_names and split_extra_pids: more processes whose CPU measure reads, each a
#   column of its own after longlink's)
#   ratio A B                        A/B as "0.58x".
if [[ -z ${BENCH_NO_BUILD:-} ]]; then
  bash scripts/install-deps.sh >/dev/null
  bash scripts/build.sh >/dev/null
fi
bin=${BENCH_LONGLINK_BIN:-$PWD/build/src/longlink}
sessions_bin=$PWD/build/bench/short_sessions
idle_bin=$PWD/build/bench/idle_clients
txn_bin=${BENCH_TXN_BIN:-$PWD/build/bench/txn_clients}
work=$(mktemp -d /tmp/longlink-bench.XXXXXX)
seconds=${BENCH_SECONDS:-10}
port=23306
helper_pids=()
cleanup() {
  local pid
  for pid in "${helper_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -n ${proxy_pid:-} ]] && kill "$proxy_pid" 2>/dev/null || true
  [[ -n ${db_pid:-} ]] && kill "$db_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

server_args=()
# run_server: mariadbd on $work/data with server_args (db_pid); returns once it answers.
run_server() {
  mariadbd --no-defaults --datadir="$work/data" --user=root --port=$port --bind-address=127.0.0.1 \
    --socket="$work/mysqld.sock" --log-error="$work/error.log" --pid-file="$work/pid" \
    --innodb-buffer-pool-size=128M --skip-log-bin --max-connections=10200 --open-files-limit=30000 \
    "${server_args[@]}" >/dev/null 2>&1 &
  db_pid=$!
  for _ in $(seq 100); do
    mariadb --no-defaults -S "$work/mysqld.sock" -uroot -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
  done
}
start_server() {
  server_args=("$@")
  mariadb-install-db --no-defaults --datadir="$work/data" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
  run_server
  mariadb --no-defaults -S "$work/mysqld.sock" -uroot -e "
    CREATE DATABASE app; CREATE DATABASE sbtest;
    CREATE USER 'app'@'localhost' IDENTIFIED BY 'app-secret';
    CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret';
    GRANT ALL ON app.* TO 'app'@'localhost'; GRANT ALL ON app.* TO 'app'@'%';
    GRANT ALL ON sbtest.* TO 'app'@'localhost'; GRANT ALL ON sbtest.* TO 'app'@'%';"
}
restart_server() {
  kill "$db_pid"
  wait "$db_pid" 2>/dev/null || true
  run_server
}

# CPU ticks and context switches (voluntary and not, all threads) of process $1.
usage() {
  if [[ ! -r /proc/$1/stat ]]; then
    echo "measure: process $1 ended before it was read (raise BENCH_SECONDS)" >&2
    return 1
  fi
  local ticks switches
  ticks=$(awk '{print $14 + $15}' /proc/"$1"/stat)
  # A thread may end between the glob and its read.
  switches=$(cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/ctxt_switches/ {s += $2} END {print s + 0}')
  echo "$ticks $switches"
}
clock_ticks=$(getconf CLK_TCK)
split_rows=()
split_extra_names=()
split_extra_pids=()
# measure LABEL UNIT PROXY_PID|- COMMAND...: runs the client COMMAND (it prints its rate per
# second: sysbench in its "queries: N (R per sec.)" line, others as the last number of their
# output), sets `measured` to the rate, and adds a row to split_rows:
# CPU microseconds and context switches per unit of work for client, server and proxy (and the
# processes of split_extra_pids), over
# the run's middle (from 1 s after the start to 1 s before the end). On a saturated box reading
# /proc takes a while: the second reading is timed from the client's start, not from the first
# reading, and the window is what the clock says lay between them.
measure() {
  local label=$1 unit=$2 proxy=$3; shift 3
  local start=$EPOCHREALTIME
  "$@" >"$work/client.out" &
  local client=$!
  sleep 1
  local before=() after=() pid from to
  from=$EPOCHREALTIME
  for pid in "$client" "$db_pid" "$proxy" "${split_extra_pids[@]}"; do
    [[ $pid == - ]] && before+=("0 0") || before+=("$(usage "$pid")")
  done
  sleep "$(awk -v s="$start" -v n="$seconds" -v now="$EPOCHREALTIME" \
    'BEGIN { d = s + n - 1 - now; printf "%.3f", (d > 0 ? d : 0) }')"
  to=$EPOCHREALTIME
  for pid in "$client" "$db_pid" "$proxy" "${split_extra_pids[@]}"; do
    [[ $pid == - ]] && after+=("0 0") || after+=("$(usage "$pid")")
  done
  local window
  window=$(awk -v a="$from" -v b="$to" 'BEGIN { print b - a }')
  wait "$client"
  local rate
  rate=$(awk '/queries:/ {sub(/\(/, "", $3); print $3; exit}' "$work/client.out")
  [[ -n $rate ]] || rate=$(grep -oE '[0-9]+(\.[0-9]+)?' "$work/client.out" | tail -n 1)
  rate=$(printf '%.0f' "$rate")
  split_row "$label" "$unit" "$rate" "$window" "${before[*]}" "${after[*]}" \
    "$([[ $proxy == - ]] && echo 1)"
  measured=$rate
}

# split_row LABEL UNIT RATE WINDOW BEFORE AFTER DIRECT: adds to split_rows the CPU microseconds
# and context switches per unit of work of client, server and proxy (and any more processes:
# a cell for each pair), from BEFORE and AFTER (each "ticks switches" of the processes, as usage
# prints them, joined by spaces) WINDOW seconds apart at RATE units per second; DIRECT (1 or
# empty): no proxy, its cell "-".
split_row() {
  split_rows+=("$(awk -v label="$1" -v unit="$2" -v rate="$3" -v window="$4" \
    -v hz="$clock_ticks" -v b="$5" -v a="$6" -v direct="$7" 'BEGIN {
      cells = split(b, x, " ") / 2; split(a, y, " "); n = rate * window
      cell = ""
      for (i = 0; i < cells; i++) {
        ticks = y[2 * i + 1] - x[2 * i + 1]; switches = y[2 * i + 2] - x[2 * i + 2]
        if (direct && i == 2) cell = cell " - |"
        else cell = cell sprintf(" %.1f µs, %.2f switches |", ticks * 1e6 / hz / n, switches / n)
      }
      printf "| %s (%d %s/s) |%s", label, rate, unit, cell
    }')")
}

print_split_table() {
  local name head="| Run | client | mariadbd | longlink |" rule="|---|---|---|---|"
  for name in "${split_extra_names[@]}"; do
    head+=" $name |"
    rule+="---|"
  done
  echo "$head"
  echo "$rule"
  printf '%s\n' "${split_rows[@]}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
