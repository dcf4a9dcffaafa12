#!/usr/bin/env bash
# The benchmark of `longlink diagnose`, on its own: bash bench/diagnose.sh [SIZES...]
# (default 60000 600000; bench/run.sh calls it). Needs root (network namespaces).
#
# For each size a fresh network namespace gets that many client-closed TIME_WAIT sockets to
# 127.0.0.1:3306 (above 100k: half to 127.0.0.2:3306, from a second generator in parallel) from
# tests/tools/sockgen.py (tcp_tw_reuse=0; tcp_max_tw_buckets raised to fit; one source address
# per 12,500 sockets, at least 10, so that no (source, destination) pair holds more than ~45% of
# the port range and connect() stays fast). Then, in that namespace, within TIME_WAIT's 60 s:
#   1. the counts: bench/netlink_floor, `ss` and the report's TIME_WAIT (total, summed over
#      destinations, and ports held summed over port-pressure rows) must all equal the size;
#   2. time: bench/netlink_floor (the floor: a bare sock_diag dump per family), the same with
#      --one-walk (one dump for both families, as diagnose asks), `longlink diagnose --json`
#      and, when set and up to 100k sockets, $BENCH_BASELINE_BIN diagnose --json (an older
#      build; above 100k only its peak RSS is measured) run in alternation by
#      bench/interleaved.py, BENCH_RUNS rounds (half as many above 100k sockets) after one
#      warm-up round: medians of wall and CPU time. Up to 100k sockets also hyperfine, with the
#      ss and netstat pipelines operators use;
#   3. peak RSS (/usr/bin/time's maximum resident set) of diagnose --json, median of 3 runs,
#      and of the floor and the baseline, one run each;
#   4. at the first size only, the CPU of `diagnose --json --watch 1` over 10 s (11 samples),
#      as a share of one core.
# Prints markdown tables: medians and ratios to the floor, then memory and watch CPU.
# Environment: BENCH_RUNS (rounds and hyperfine runs, default 10), BENCH_NO_BUILD=1 (use build/ as is).
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
# Seconds since $started, for the progress lines on standard error.
since() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }

# Median of the numbers on standard input.
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# Peak RSS in KiB of a command run in the namespace: median of RUNS runs (first argument).
peak_rss() {
  local runs=$1
  shift
  for _ in $(seq "$runs"); do
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
  # Above 100k, two generators in parallel (each its own destination, 127.0.0.1:3306 and
  # 127.0.0.2:3306, and half the sources): one Python process needs ~9 s for 600k on an idle VM,
  # and a busy one let the first sockets expire before the last were made.
  generators=1
  ((n <= 100000)) || generators=2
  started=$(date +%s.%N)
  pids=()
  for g in $(seq 1 "$generators"); do
    share=$((n / generators + (g <= n % generators ? 1 : 0)))
    sources=$(for i in $(seq "$g" "$generators" "$count"); do printf '127.0.%d.%d,' $((1 + (i - 1) / 250)) $((1 + (i - 1) % 250)); done)
    in_ns /usr/bin/python3 "$sockgen" --sources "${sources%,}" --client-close "127.0.0.$g:3306" "$share" >/dev/null &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  generated=$(date +%s.%N)

  echo "bench: $n: generated after $(since) s" >&2
  # 1. Everyone must count the same sockets.
  got_floor=$(in_ns "$floor" | awk '{print $2}')
  got_one_walk=$(in_ns "$floor" --one-walk | awk '{print $2}')
  [[ $got_one_walk == "$got_floor" ]] || got_floor="$got_floor (one walk: $got_one_walk)"
  got_ss=$(($(in_ns ss -tan state time-wait | wc -l) - 1))
  in_ns "$bin" diagnose --json >"$out/report.json"
  got_report=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["states"]["TIME_WAIT"], sum(d["states"]["TIME_WAIT"] for d in r["destinations"]), sum(p["ports_held"] for p in r["port_pressure"]))' "$out/report.json")
  if [[ $got_floor != "$n" || $got_ss != "$n" || $got_report != "$n $n $n" ]]; then
    echo "bench: expected $n TIME_WAIT; floor $got_floor, ss $got_ss, report (total, group, ports held) $got_report" >&2
    awk -v a="$started" -v b="$generated" 'BEGIN {printf "bench: generating took %.1f s; a busy machine lets the first ones expire\n", b - a}' >&2
    exit 1
  fi

  echo "bench: $n: counts agree after $(since) s" >&2
  # 2. Time: the floor and diagnose (and the baseline) in alternation, wall and CPU time; then,
  # up to 100k sockets, hyperfine with the pipelines operators use, as the earlier table did.
  size_runs=$runs
  ((n <= 100000)) || size_runs=$(((runs + 1) / 2))  # a 600k run takes ~0.4 s: stay within 60 s
  commands=("floor=$floor" "floor, one walk=$floor --one-walk" "longlink diagnose --json=$bin diagnose --json")
  # The baseline's time only where it fits in TIME_WAIT's 60 s (at 600k it takes ~1 s a run).
  [[ -z $baseline ]] || ((n > 100000)) || commands+=("baseline diagnose --json=$baseline diagnose --json")
  in_ns /usr/bin/python3 bench/interleaved.py "$size_runs" "$out/$n.interleaved.json" "${commands[@]}"
  if ((n <= 100000)); then
    in_ns hyperfine --style none --warmup 2 --runs "$runs" --export-json "$out/$n.json" \
      -n floor "$floor" -n "longlink diagnose --json" "$bin diagnose --json > /dev/null" \
      -n "ss pipeline" "ss -tan | awk '{print \$5,\$1}' | sort | uniq -c > /dev/null" \
      -n "netstat pipeline" "netstat -tna | awk '{print \$5,\$6}' | sort | uniq -c | sort -n | tail -n 1 > /dev/null" \
      >/dev/null 2>&1
  fi

  echo "bench: $n: timed after $(since) s" >&2
  # 3. Memory.
  rss_floor=$(peak_rss 1 "$floor")
  rss_diag=$(peak_rss 3 "$bin" diagnose --json)
  rss_base=-
  [[ -z $baseline ]] || rss_base=$(peak_rss 1 "$baseline" diagnose --json)

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
import json, os, sys
rows = [line.rstrip("\n").split("|") for line in open(sys.argv[1])]
print("In alternation (bench/interleaved.py), medians:")
print()
print("| TIME_WAIT sockets | command | wall (ms) | × floor | × one walk | CPU (ms) | × floor | × one walk |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
for n, path, *_ in rows:
    results = json.load(open(path.replace(".json", ".interleaved.json")))["results"]
    floor, one_walk = results[0], results[1]
    for r in results:
        print(f"| {int(n):,} | {r['command']} | {r['wall_median'] * 1000:.1f} | "
              f"{r['wall_median'] / floor['wall_median']:.2f} | "
              f"{r['wall_median'] / one_walk['wall_median']:.2f} | {r['cpu_median'] * 1000:.1f} | "
              f"{r['cpu_median'] / floor['cpu_median']:.2f} | "
              f"{r['cpu_median'] / one_walk['cpu_median']:.2f} |")
print()
hyperfine = [(n, path) for n, path, *_ in rows if os.path.exists(path)]
if hyperfine:
    print("hyperfine (shell start-up subtracted), medians:")
    print()
    print("| TIME_WAIT sockets | command | median (ms) | × floor |")
    print("|---:|---|---:|---:|")
    for n, path in hyperfine:
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
