#!/usr/bin/env bash
# Benchmarks the cost of the proxy's per-command counting (issue 16: per-pool counters, two
# clock reads and a latency histogram per command, the checkout-wait histogram, and with an
# admin console a statement digest per COM_QUERY). sysbench oltp_point_select, 8 threads,
# BENCH_SECONDS each, against one server, as text (--db-ps-mode=disable: every query a
# COM_QUERY, so a digest each) and as prepared statements (--db-ps-mode=auto), through the
# proxy's Unix socket in session pooling (a pool of 16) and in transaction pooling (a pool of
# BENCH_COUNTING_POOL_SIZE, default 4, as bench/ps_pool.sh), with these proxies:
#   A. BENCH_BASELINE_BIN (optional: a longlink built before the counting, the baseline);
#   B. BENCH_LONGLINK_BIN (default build/src/longlink) without an [admin] section: counters
#      and histograms only, no digests;
#   C. the same binary with --config holding only `[admin] unix_socket` (digests on, the
#      default max_query_digests).
# Plus direct TCP, once per protocol per round (the usual baseline). BENCH_COUNTING_ROUNDS
# rounds (default 3); in each, for each protocol and pool mode, A, B and C one after the
# other (A B C A B C ...), so that the box's drift falls on all of them alike. A fresh proxy
# per run. Prints for each (pool mode, protocol, variant) the median queries/s with the
# runs' min-max and each run's figure, the ratios of the medians to A (to B without A), and
# the proxy's median CPU time per query over the middle of the run (1 s after the start to
# 1 s before the end, from /proc as bench/lib.sh's measure).
# Usage: sudo BENCH_BASELINE_BIN=/tmp/longlink-before bash bench/counting.sh
#   (or sudo bash bench/run.sh --counting-only). BENCH_SECONDS=N per run (default 10, at least
# 4). Installs and builds first (BENCH_NO_BUILD=1: uses build/ as is). Shared parts:
# bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
rounds=${BENCH_COUNTING_ROUNDS:-3}
pool_size=${BENCH_COUNTING_POOL_SIZE:-4}
baseline=${BENCH_BASELINE_BIN:-}
threads=8
if ((seconds < 4)); then
  echo "BENCH_SECONDS: at least 4 (a second each side of the measured window), not $seconds" >&2
  exit 2
fi
variants=(B C)
[[ -n $baseline ]] && variants=(A B C)
printf '[admin]\nunix_socket = "%s"\n' "$work/admin.sock" >"$work/admin.toml"

start_server
root() { mariadb --no-defaults -S "$work/mysqld.sock" -uroot -N -B -e "$1"; }
sb=(sysbench oltp_point_select --db-driver=mysql --mysql-user=app --mysql-password=app-secret
  --mysql-db=sbtest --tables=1 --table-size=10000)
"${sb[@]}" --mysql-host=127.0.0.1 --mysql-port="$port" prepare >/dev/null
root "SELECT COUNT(*) FROM sbtest.sbtest1" >/dev/null # In the buffer pool for every run.

# start_proxy VARIANT MODE: a proxy of VARIANT (A, B, C) on $work/proxy.sock in pool MODE;
# sets proxy_pid.
start_proxy() {
  local variant=$1 mode=$2 binary=$bin extra=() size=$pool_size
  [[ $variant == A ]] && binary=$baseline
  [[ $variant == C ]] && extra=(--config "$work/admin.toml")
  [[ $mode == session ]] && size=$((threads + 8))
  rm -f "$work/proxy.sock" "$work/admin.sock"
  "$binary" proxy "${extra[@]}" --backend "127.0.0.1:$port" --unix-socket "$work/proxy.sock" \
    --user app:app-secret --max-clients 20000 --pool-mode "$mode" --pool-size "$size" \
    2>"$work/proxy.log" &
  proxy_pid=$!
  for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done
  if ! kill -0 "$proxy_pid" 2>/dev/null || [[ ! -S $work/proxy.sock ]] ||
    [[ $variant == C && ! -S $work/admin.sock ]]; then
    echo "the proxy ($variant, $mode) did not start (or without its admin console); its log:" >&2
    cat "$work/proxy.log" >&2
    exit 1
  fi
}
stop_proxy() {
  if ! kill -0 "$proxy_pid" 2>/dev/null; then
    echo "the proxy ended during the run; its log:" >&2
    tail -n 20 "$work/proxy.log" >&2
    exit 1
  fi
  kill "$proxy_pid"
  wait "$proxy_pid" 2>/dev/null || true
  proxy_pid=
}

# run KEY PROXY_PID|- ARGS...: sysbench ARGS for BENCH_SECONDS; appends "qps proxy_us" (the
# proxy's CPU µs per query, "-" direct) to results_KEY. Exits if sysbench fails or has errors.
declare -A results
run() {
  local key=$1 proxy=$2
  shift 2
  local out=$work/sb.out start client
  start=$EPOCHREALTIME
  "${sb[@]}" "$@" --threads=$threads --time="$seconds" run >"$out" 2>&1 &
  client=$!
  sleep 1
  local ticks_before=0 ticks_after=0 from to
  from=$EPOCHREALTIME
  [[ $proxy != - ]] && ticks_before=$(usage "$proxy")
  sleep "$(awk -v s="$start" -v n="$seconds" -v now="$EPOCHREALTIME" \
    'BEGIN { d = s + n - 1 - now; printf "%.3f", (d > 0 ? d : 0) }')"
  to=$EPOCHREALTIME
  [[ $proxy != - ]] && ticks_after=$(usage "$proxy")
  if ! wait "$client"; then
    echo "sysbench ($key) failed:" >&2
    tail -n 20 "$out" >&2
    exit 1
  fi
  local rate errors
  rate=$(awk '/queries:/ {sub(/\(/, "", $3); print $3; exit}' "$out")
  errors=$(awk '/ignored errors:/ {print $3; exit}' "$out")
  if [[ -z $rate || $errors != 0 ]]; then
    echo "sysbench ($key): no rate or $errors ignored errors:" >&2
    tail -n 20 "$out" >&2
    exit 1
  fi
  local us=-
  if [[ $proxy != - ]]; then
    us=$(awk -v r="$rate" -v a="$from" -v b="$to" -v t0="${ticks_before%% *}" \
      -v t1="${ticks_after%% *}" -v hz="$clock_ticks" \
      'BEGIN { printf "%.1f", (t1 - t0) * 1e6 / hz / (r * (b - a)) }')
  fi
  results[$key]+="$(printf '%.0f' "$rate") $us "
  echo "round $round: $key $(printf '%.0f' "$rate") queries/s, proxy $us µs/query" >&2
}

modes=(session transaction)
protocols=(text prepared)
ps_mode() { [[ $1 == text ]] && echo disable || echo auto; }
for ((round = 1; round <= rounds; round++)); do
  for protocol in "${protocols[@]}"; do
    run "direct/$protocol" - --db-ps-mode="$(ps_mode "$protocol")" \
      --mysql-host=127.0.0.1 --mysql-port="$port"
    for mode in "${modes[@]}"; do
      for variant in "${variants[@]}"; do
        start_proxy "$variant" "$mode"
        run "$mode/$protocol/$variant" "$proxy_pid" --db-ps-mode="$(ps_mode "$protocol")" \
          --mysql-socket="$work/proxy.sock"
        if [[ $variant == C && $round == 1 && $protocol == text ]]; then
          # Digests were recorded: the console's SHOW QUERIES has the point select's shape.
          if ! mariadb --no-defaults -S "$work/admin.sock" -N -B -e "SHOW QUERIES" 2>&1 |
            grep -q 'FROM sbtest1 WHERE id'; then
            echo "variant C ($mode): SHOW QUERIES has no point select (digests off?)" >&2
          fi
        fi
        stop_proxy
      done
    done
  done
done

# stats "Q1 U1 Q2 U2 ...": "median_qps min max median_us runs" (runs: the qps, comma-separated).
stats() {
  awk '{
    n = 0; for (i = 1; i < NF; i += 2) { n++; q[n] = $i; u[n] = $(i + 1) }
    asort(q, qs); asort(u, us)
    med = (n % 2) ? qs[(n + 1) / 2] : (qs[n / 2] + qs[n / 2 + 1]) / 2
    if (us[1] == "-") umed = "-"
    else if (n % 2) umed = us[(n + 1) / 2]
    else umed = sprintf("%.1f", (us[n / 2] + us[n / 2 + 1]) / 2)
    runs = q[1]; for (i = 2; i <= n; i++) runs = runs ", " q[i]
    printf "%.0f %d %d %s %s", med, qs[1], qs[n], umed, runs
  }' <<<"$1"
}
base=${variants[0]}
name() {
  case $1 in
    A) echo "A: baseline ($(basename "$baseline"))" ;;
    B) echo "B: counters, no [admin]" ;;
    C) echo "C: counters + digests ([admin] unix_socket)" ;;
  esac
}
echo
echo "| oltp_point_select, $threads threads, ${seconds} s x $rounds rounds | Variant |" \
  "Queries/s, median | min-max (spread) | Runs | Ratio to $base | Proxy CPU µs/query, median |"
echo "|---|---|---|---|---|---|---|"
for protocol in "${protocols[@]}"; do
  read -r med lo hi _ runs <<<"$(stats "${results[direct/$protocol]}")"
  spread=$(awk -v l="$lo" -v h="$hi" -v m="$med" 'BEGIN { printf "%.1f%%", (h - l) * 100 / m }')
  echo "| Direct TCP, $protocol | - | $med | $lo-$hi ($spread) | $runs | - | - |"
  for mode in "${modes[@]}"; do
    read -r base_med _ <<<"$(stats "${results[$mode/$protocol/$base]}")"
    for variant in "${variants[@]}"; do
      read -r med lo hi us runs <<<"$(stats "${results[$mode/$protocol/$variant]}")"
      spread=$(awk -v l="$lo" -v h="$hi" -v m="$med" 'BEGIN { printf "%.1f%%", (h - l) * 100 / m }')
      size=$pool_size
      [[ $mode == session ]] && size=$((threads + 8))
      echo "| $mode pooling (pool of $size), $protocol | $(name "$variant") | $med |" \
        "$lo-$hi ($spread) | $runs | $(ratio "$med" "$base_med") | $us |"
    done
  done
done
