#!/usr/bin/env bash
# The benchmark of `longlink diagnose`, on its own: bash bench/diagnose.sh [SIZES...]
# (default 60000 600000; bench/run.sh calls it). Needs root (network namespaces).
#
# For each size a fresh network namespace gets that many client-closed TIME_WAIT sockets to
# 127.0.0.1:3306 from tests/tools/sockgen.py (tcp_tw_reuse=0; tcp_max_tw_buckets raised to fit;
# one source address per 12,500 sockets, at least 10, so that no (source, destination) pair
# holds more than ~45% of the port range and connect() stays fast). Then, in that namespace,
# all within TIME_WAIT's 60 s:
#   1. the counts: bench/netlink_floor, `ss` and the report's TIME_WAIT must all equal the size;
#   2. hyperfine (BENCH_RUNS runs, half as many above 100k sockets, after one warm-up run):
#      bench/netlink_floor (the floor: a bare sock_diag dump) and
#      `longlink diagnose --json`, plus (up to 100k sockets) the ss and netstat pipelines
#      operators use, and $BENCH_BASELINE_BIN diagnose --json when set (an older build);
#   3. peak RSS (/usr/bin/time's maximum resident set) of the floor and of diagnose --json,
#      median of 3;
#   4. at the first size only, the CPU of `diagnose --json --watch 1` over 10 s (11 samples),
#      as a share of one core.
# Prints markdown tables: medians and ratios to the floor, then memory and watch CPU.
# Environment: BENCH_RUNS (hyperfine runs, default 10), BENCH_NO_BUILD=1 (use build/ as is).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
((${#sizes[@]})) || sizes=(60000 600000)
runs=${BENCH_RUNS:-10}
baseline=${BENCH_BASELINE_BIN:-}

if [[ -z ${BENCH_NO_BUILD:-} ]]; then
  bash scripts/install-deps.sh >/dev/null
  bash scripts/build.sh >/dev/null
fi
bin=$PWD/build/src/longlink
floor=$PWD/build/bench/netlink_floor
sockgen=$PWD/tests/tools/sockgen.py
ns=longlink-diag-bench-$$
out=$(mktemp -d)
cleanup_ns() {
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
}
trap 'cleanup_ns; rm -rf "$out"' EXIT
in_ns() { ip netns exec "$ns" "$@"; }

# Median of the numbers on standard input.
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# Peak RSS in KiB of a command run in the namespace, median of 3.
peak_rss() {
  for _ in 1 2 3; do
    in_ns /usr/bin/time -f '%M' -o "$out/rss" "$@" >/dev/null
    cat "$out/rss"
  done | median
}

first=1
for n in "${sizes[@]}"; do
  cleanup_ns
  ip netns add "$ns"
  in_ns ip link set lo up
  buckets=$((n * 2 > 131072 ? n * 2 : 131072))
  in_ns sysctl -qw net.ipv4.tcp_tw_reuse=0 net.ipv4.tcp_max_tw_buckets=$buckets
  count=$(((n + 12499) / 12500))
  ((count >= 10)) || count=10
  sources=$(for i in $(seq 1 "$count"); do printf '127.0.%d.%d,' $((1 + (i - 1) / 250)) $((1 + (i - 1) % 250)); done)
  started=$(date +%s.%N)
  in_ns /usr/bin/python3 "$sockgen" --sources "${sources%,}" --client-close 127.0.0.1:3306 "$n" >/dev/null
  generated=$(date +%s.%N)

  # 1. Everyone must count the same sockets.
  got_floor=$(in_ns "$floor" | awk '{print $2}')
  got_ss=$(($(in_ns ss -tan state time-wait | wc -l) - 1))
  in_ns "$bin" diagnose --json >"$out/report.json"
  got_report=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["states"]["TIME_WAIT"], r["destinations"][0]["states"]["TIME_WAIT"], sum(p["ports_held"] for p in r["port_pressure"]))' "$out/report.json")
  if [[ $got_floor != "$n" || $got_ss != "$n" || $got_report != "$n $n $n" ]]; then
    echo "bench: expected $n TIME_WAIT; floor $got_floor, ss $got_ss, report (total, group, ports held) $got_report" >&2
    awk -v a="$started" -v b="$generated" 'BEGIN {printf "bench: generating took %.1f s; a busy machine lets the first ones expire\n", b - a}' >&2
    exit 1
  fi

  # 2. Time.
  commands=(-n floor "$floor" -n "longlink diagnose --json" "$bin diagnose --json > /dev/null")
  if [[ -n $baseline ]]; then
    commands+=(-n "baseline diagnose --json" "$baseline diagnose --json > /dev/null")
  fi
  if ((n <= 100000)); then
    commands+=(-n "ss pipeline" "ss -tan | awk '{print \$5,\$1}' | sort | uniq -c > /dev/null"
      -n "netstat pipeline" "netstat -tna | awk '{print \$5,\$6}' | sort | uniq -c | sort -n | tail -n 1 > /dev/null")
  fi
  size_runs=$runs
  ((n <= 100000)) || size_runs=$(((runs + 1) / 2))  # a 600k run takes ~0.4 s: stay within 60 s
  in_ns hyperfine --style none --warmup 1 --runs "$size_runs" --export-json "$out/$n.json" "${commands[@]}" >/dev/null

  # 3. Memory.
  rss_floor=$(peak_rss "$floor")
  rss_diag=$(peak_rss "$bin" diagnose --json)
  rss_base=-
  [[ -z $baseline ]] || rss_base=$(peak_rss "$baseline" diagnose --json)

  # 4. Watch CPU, at the first size.
  watch=-
  if ((first)); then
    in_ns /usr/bin/time -f '%U %S %e' -o "$out/watch" "$bin" diagnose --json --watch 1 --count 11 >/dev/null
    watch=$(awk '{printf "%.1f%% (%.2f s CPU in %.1f s)", ($1 + $2) * 100 / $3, $1 + $2, $3}' "$out/watch")
  fi
  finished=$(date +%s.%N)
  awk -v a="$started" -v b="$generated" -v c="$finished" 'BEGIN {if (c - a > 58) {print "bench: measurements ended " c - a " s after generation began: TIME_WAIT may have expired" > "/dev/stderr"; exit 1}}'
  printf '%s|%s|%s|%s|%s|%s|%s\n' "$n" "$out/$n.json" "$rss_floor" "$rss_diag" "$rss_base" "$watch" "$count" >>"$out/rows"
  awk -v n="$n" -v a="$started" -v b="$generated" -v c="$finished" \
    'BEGIN {printf "bench: %d sockets generated in %.1f s, measured within %.1f s\n", n, b - a, c - a}' >&2
  first=0
done
cleanup_ns

/usr/bin/python3 - "$out/rows" <<'PY'
import json, sys
rows = [line.rstrip("\n").split("|") for line in open(sys.argv[1])]
print("| TIME_WAIT sockets | command | median (ms) | × floor |")
print("|---:|---|---:|---:|")
for n, path, *_ in rows:
    results = json.load(open(path))["results"]
    floor = next(r["median"] for r in results if r["command"] == "floor")
    for r in results:
        print(f"| {int(n):,} | {r['command']} | {r['median'] * 1000:.1f} | {r['median'] / floor:.2f} |")
print()
print("| TIME_WAIT sockets | source addresses | peak RSS floor (MiB) | peak RSS diagnose --json (MiB) | baseline (MiB) | `--watch 1` CPU |")
print("|---:|---:|---:|---:|---:|---|")
mib = lambda kib: "-" if kib == "-" else f"{float(kib) / 1024:.1f}"
for n, _, rss_floor, rss_diag, rss_base, watch, count in rows:
    print(f"| {int(n):,} | {count} | {mib(rss_floor)} | {mib(rss_diag)} | {mib(rss_base)} | {watch} |")
PY
