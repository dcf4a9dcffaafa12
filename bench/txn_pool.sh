#!/usr/bin/env bash
# Benchmarks transaction pooling (`longlink proxy --pool-mode transaction`) against direct
# MariaDB, in one run on this machine: BENCH_TXN_CLIENTS (default 2,000) clients of
# bench/txn_clients.cc, each connected for the whole run and looping: think time uniformly
# random BENCH_TXN_THINK_MS (default 500-1000 ms), then a short transaction on a random row of
# app.accounts (10,000 rows): BEGIN; SELECT v ... WHERE id = N; UPDATE ... SET v = v + 1 WHERE
# id = N; COMMIT. Three runs, each on a fresh mariadbd process (restart_server: so that RSS
# shows that run alone) and, through the proxy, a fresh proxy:
#   1. direct over TCP: a server connection per client (the baseline);
#   2. through the proxy's Unix socket, a transaction pool of at most BENCH_TXN_POOL_SIZE
#      (default 32) backend connections over TCP;
#   3. the same through the proxy's TCP port.
# The server keeps its durable default (innodb_flush_log_at_trx_commit=1): every COMMIT waits
# for a log flush, and through the pool its backend connection waits with it, so a slow or
# shared disk shows here.
# For each, over BENCH_SECONDS (after the clients have connected and a 2 s warm-up):
# transactions/s, p50/p99/p99.9 latency (BEGIN sent to COMMIT answered) from the client; the
# backend connections the server saw (the app user's rows in the process list, sampled every
# 0.5 s, its maximum; the server's Max_used_connections since the restart, all users and the
# whole run, as a check; and the connections opened during the run); the peak VmRSS of
# mariadbd and of the proxy, sampled with them. Prints a markdown table with ratios against
# direct and the issue's targets, then, as bench/proxy.sh, the CPU time and context switches
# per transaction of client, server and proxy over the measured window.
# Usage: sudo bash bench/txn_pool.sh (BENCH_SECONDS=N per run, default 10; BENCH_TXN_CLIENTS,
# BENCH_TXN_THINK_MS=MIN-MAX, BENCH_TXN_POOL_SIZE). Installs and builds first (BENCH_NO_BUILD=1:
# uses build/ as is; BENCH_LONGLINK_BIN and BENCH_TXN_BIN: other binaries). Shared parts:
# bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
clients=${BENCH_TXN_CLIENTS:-2000}
think=${BENCH_TXN_THINK_MS:-500-1000}
pool_size=${BENCH_TXN_POOL_SIZE:-32}
rows=10000
proxy_port=26033
if [[ ! $think =~ ^([0-9]+)-([0-9]+)$ ]]; then
  echo "BENCH_TXN_THINK_MS: MIN-MAX in milliseconds, not '$think'" >&2
  exit 2
fi
think_min=${BASH_REMATCH[1]} think_max=${BASH_REMATCH[2]}
# Each client is a descriptor in the client, in the server (direct) or the proxy, and the
# proxy also has its backend connections: raise the limit if allowed.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < clients + 200)); then
  echo "$clients clients need more descriptors than ulimit -n $(ulimit -n) allows" >&2
  exit 1
fi

start_server
root() { mariadb --no-defaults -S "$work/mysqld.sock" -uroot -N -B -e "$1"; }
status() { root "SHOW GLOBAL STATUS LIKE '$1'" | awk '{print $2}'; }
root "CREATE TABLE app.accounts (id INT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB;
  SET SESSION max_recursive_iterations = $rows;
  INSERT INTO app.accounts (id, v)
    WITH RECURSIVE n (id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM n WHERE id < $rows)
    SELECT id, 0 FROM n;"

start_proxy() {
  rm -f "$work/proxy.sock"
  "$bin" proxy --backend "127.0.0.1:$port" --listen "127.0.0.1:$proxy_port" \
    --unix-socket "$work/proxy.sock" --user app:app-secret --pool-mode transaction \
    --pool-size "$pool_size" --max-clients 20000 2>"$work/proxy-$1.log" &
  proxy_pid=$!
  for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done
  if ! kill -0 "$proxy_pid" 2>/dev/null || [[ ! -S $work/proxy.sock ]]; then
    echo "the proxy did not start; its log:" >&2
    cat "$work/proxy-$1.log" >&2
    exit 1
  fi
}
stop_proxy() {
  if ! kill -0 "$proxy_pid" 2>/dev/null; then
    echo "the proxy ended during the run ($1); its log:" >&2
    tail -n 20 "$work/proxy-$1.log" >&2
    exit 1
  fi
  kill "$proxy_pid"
  wait "$proxy_pid" 2>/dev/null || true
  proxy_pid=
}
# field LINE KEY: the value after KEY in txn_clients' result LINE.
field() { awk -v k="$2" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }' <<<"$1"; }
rss_kib() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status 2>/dev/null || echo 0; }

# load NAME LABEL PROXY_PID|- ARGS...: one run of txn_clients ARGS against the server as it is.
# Sets, for NAME: tps_, p50_, p99_, p999_, max_, errors_, lost_, sampled_ (max app rows in the
# process list), max_used_, opened_ (server connections opened during the run, the samples'
# own taken out), db_rss_, proxy_rss_ (peak KiB; "-" direct); adds a row to split_rows.
load() {
  local name=$1 label=$2 proxy=$3; shift 3
  local out=$work/txn-$name.out err=$work/txn-$name.err
  local connections_before samples=0 sampled=0 db_rss=0 proxy_rss=0
  connections_before=$(status Connections)
  # The client keeps its process (and its /proc entries) until fd 3 closes.
  rm -f "$work/hold"
  mkfifo "$work/hold"
  exec 3<>"$work/hold"
  "$txn_bin" --hold --think "$think_min" "$think_max" --rows "$rows" "$@" "$clients" "$seconds" \
    <"$work/hold" >"$out" 2>"$err" 3>&- &
  local client=$!
  until grep -q '^measuring' "$out"; do
    if ! kill -0 "$client" 2>/dev/null; then
      wait "$client" || true
      echo "txn_clients ($label) failed before measuring:" >&2
      head -n 20 "$err" >&2
      exit 1
    fi
    sleep 0.1
  done
  local before=() after=() pid from to n value
  from=$EPOCHREALTIME
  for pid in "$client" "$db_pid" "$proxy"; do
    [[ $pid == - ]] && before+=("0 0") || before+=("$(usage "$pid")")
  done
  # Samples every 0.5 s until 1 s before the client's window ends (its line says when), then
  # the second CPU reading. A sample can take long on a saturated box: none starts that
  # would, as long as the last one, end past that point.
  local end took=0 sample_start
  end=$(awk '/^measuring until / { printf "%.6f", $3 - 1 }' "$out")
  while :; do
    sample_start=$EPOCHREALTIME
    n=$(root "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'" ||
      echo 0)
    samples=$((samples + 1))
    ((n > sampled)) && sampled=$n
    value=$(rss_kib "$db_pid")
    ((value > db_rss)) && db_rss=$value
    if [[ $proxy != - ]]; then
      value=$(rss_kib "$proxy")
      ((value > proxy_rss)) && proxy_rss=$value
    fi
    took=$(awk -v a="$sample_start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
    awk -v end="$end" -v now="$EPOCHREALTIME" -v t="$took" \
      'BEGIN { exit !(now + 0.5 + t < end) }' || break
    sleep 0.5
  done
  sleep "$(awk -v end="$end" -v now="$EPOCHREALTIME" \
    'BEGIN { d = end - now; printf "%.3f", (d > 0 ? d : 0) }')"
  to=$EPOCHREALTIME
  for pid in "$client" "$db_pid" "$proxy"; do
    [[ $pid == - ]] && after+=("0 0") || after+=("$(usage "$pid")")
  done
  local window
  window=$(awk -v a="$from" -v b="$to" 'BEGIN { print b - a }')
  exec 3>&-
  local exit_status=0
  wait "$client" || exit_status=$?
  local line
  line=$(grep '^clients ' "$out" || true)
  if [[ -z $line ]]; then
    echo "txn_clients ($label) ended with status $exit_status and no result:" >&2
    head -n 20 "$err" >&2
    exit 1
  fi
  if ((exit_status != 0)) || [[ -s $err ]]; then
    echo "txn_clients ($label), status $exit_status, said:" >&2
    head -n 20 "$err" >&2
  fi
  # The two status reads are connections too: the second, and the samples', are counted.
  local opened=$(($(status Connections) - connections_before - samples - 1))
  printf -v "tps_$name" '%s' "$(field "$line" tps)"
  printf -v "p50_$name" '%s' "$(field "$line" p50_ms)"
  printf -v "p99_$name" '%s' "$(field "$line" p99_ms)"
  printf -v "p999_$name" '%s' "$(field "$line" p999_ms)"
  printf -v "max_$name" '%s' "$(field "$line" max_ms)"
  printf -v "errors_$name" '%s' "$(field "$line" errors)"
  printf -v "lost_$name" '%s' "$(field "$line" lost)"
  printf -v "sampled_$name" '%s' "$sampled"
  printf -v "max_used_$name" '%s' "$(status Max_used_connections)"
  printf -v "opened_$name" '%s' "$opened"
  printf -v "db_rss_$name" '%s' "$db_rss"
  if [[ $proxy == - ]]; then proxy_rss=-; fi
  printf -v "proxy_rss_$name" '%s' "$proxy_rss"
  split_row "$label" transactions "$(field "$line" tps)" "$window" "${before[*]}" "${after[*]}" \
    "$([[ $proxy == - ]] && echo 1)"
}
# fresh: a new server process, its table read once (in the buffer pool as for a warm server).
fresh() {
  restart_server
  root "SELECT SUM(v) FROM app.accounts" >/dev/null
}

fresh
load direct "Transactions, direct TCP" - --tcp "127.0.0.1:$port"
fresh
start_proxy unix
load unix "Transactions, longlink Unix socket" "$proxy_pid" --socket "$work/proxy.sock"
stop_proxy unix
fresh
start_proxy tcp
load tcp "Transactions, longlink TCP" "$proxy_pid" --tcp "127.0.0.1:$proxy_port"
stop_proxy tcp

mib() { if [[ $1 == - ]]; then echo -; else awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; fi; }
# verdict VALUE BASE OP LIMIT: whether VALUE / BASE is OP (<= or >=) LIMIT, "met" or "missed".
verdict() {
  awk -v v="$1" -v b="$2" -v op="$3" -v l="$4" 'BEGIN {
    ok = (op == "<=") ? v / b <= l : v / b >= l
    printf "**%s**", (ok ? "met" : "missed")
  }'
}
# row LABEL VARIABLE [TARGET_OP TARGET_LIMIT TARGET_TEXT [TARGET_AGAINST_DIRECT]]: the three
# runs' values of VARIABLE (VARIABLE_direct, ...), proxy runs with their ratio to direct; the
# target checked against the value, or with TARGET_AGAINST_DIRECT (1) against the ratio.
row() {
  local label=$1 variable=$2 direct unix tcp target=-
  direct=${variable}_direct unix=${variable}_unix tcp=${variable}_tcp
  direct=${!direct} unix=${!unix} tcp=${!tcp}
  local unix_ratio=- tcp_ratio=-
  if [[ $direct != - && $direct != 0 && $direct != 0.0 ]]; then
    unix_ratio=$(ratio "$unix" "$direct") tcp_ratio=$(ratio "$tcp" "$direct")
  fi
  if (($# > 2)); then
    local base=1
    [[ ${6:-} == 1 ]] && base=$direct
    target="$5: $(verdict "$unix" "$base" "$3" "$4") (Unix),"
    target+=" $(verdict "$tcp" "$base" "$3" "$4") (TCP)"
  fi
  echo "| $label | $direct | $unix | $unix_ratio | $tcp | $tcp_ratio | $target |"
}
for name in direct unix tcp; do
  for v in db_rss proxy_rss; do
    variable=${v}_$name
    printf -v "${v}_mib_$name" '%s' "$(mib "${!variable}")"
  done
  db=db_rss_$name proxy=proxy_rss_$name
  printf -v "total_rss_mib_$name" '%s' "$(mib $((${!db} + ${!proxy/-/0})))"
done

echo
pool="pool of $pool_size"
echo "| Measure ($clients clients, think $think_min-$think_max ms, ${seconds} s) | Direct TCP |" \
  "longlink Unix socket ($pool) | Ratio | longlink TCP ($pool) | Ratio | Target |"
echo "|---|---|---|---|---|---|---|"
row "Backend connections, peak sampled (app in PROCESSLIST, every 0.5 s)" sampled \
  "<=" "$pool_size" "<= $pool_size"
row "Server's Max_used_connections (all users, whole run)" max_used
row "Server connections opened during the run" opened
row "Transactions/s" tps ">=" 0.95 ">= 0.95x" 1
row "Latency p50 (ms)" p50
row "Latency p99 (ms)" p99 "<=" 1.00 "<= 1.00x" 1
row "Latency p99.9 (ms)" p999
row "Latency max (ms)" max
row "Server RSS, peak (MiB)" db_rss_mib
row "Proxy RSS, peak (MiB)" proxy_rss_mib
row "Server + proxy RSS, sum of the peaks (MiB)" total_rss_mib
row "Transaction errors (whole run)" errors
row "Clients lost (could not reconnect)" lost
awk -v c="$clients" -v a="$think_min" -v b="$think_max" 'BEGIN {
  printf "\nOffered load: %d clients, each a transaction per think time (mean %.0f ms) plus its" \
    " latency: at most %.0f transactions/s.\n", c, (a + b) / 2, c * 2000 / (a + b)
}'
echo
print_split_table
