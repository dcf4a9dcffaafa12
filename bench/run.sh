#!/usr/bin/env bash
# One command for longlink's benchmarks: bash bench/run.sh [SIZES...]
# For each size (default 20000 60000) a fresh network namespace gets that many client-closed
# TIME_WAIT sockets to 127.0.0.1:3306 (tcp_tw_reuse=0, 10 source addresses), then hyperfine
# times, in the same run and namespace: longlink diagnose --json, the netstat pipeline operators
# use, an ss pipeline, and bench/netlink_floor (a bare sock_diag dump: the floor). Prints a
# markdown table of medians and ratios to the floor. Needs root (namespaces). Then runs
# bench/proxy.sh (the proxy against direct MariaDB; BENCH_SECONDS per measurement).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
((${#sizes[@]})) || sizes=(20000 60000)

bash scripts/install-deps.sh >/dev/null
bash scripts/build.sh >/dev/null
bin=$PWD/build/src/longlink
floor=$PWD/build/bench/netlink_floor
sockgen=$PWD/tests/tools/sockgen.py
out=$(mktemp -d)
ns=longlink-bench-$$
cleanup() {
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

sources=$(printf '127.0.1.%d,' $(seq 1 10))
echo "| TIME_WAIT sockets | command | median (ms) | × floor |"
echo "|---:|---|---:|---:|"
for n in "${sizes[@]}"; do
  cleanup
  out=$(mktemp -d)
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=0
  ip netns exec "$ns" /usr/bin/python3 "$sockgen" --sources "${sources%,}" \
    --client-close 127.0.0.1:3306 "$n" >/dev/null
  got=$(ip netns exec "$ns" "$floor" | awk '{print $2}')
  [[ $got == "$n" ]] || { echo "bench: expected $n TIME_WAIT, found $got" >&2; exit 1; }
  # Everything below must finish well within TIME_WAIT's 60 s.
  ip netns exec "$ns" hyperfine --style none --warmup 2 --runs 10 --export-json "$out/$n.json" \
    -n floor "$floor" \
    -n "longlink diagnose --json" "$bin diagnose --json > /dev/null" \
    -n "ss pipeline" "ss -tan | awk '{print \$5,\$1}' | sort | uniq -c > /dev/null" \
    -n "netstat pipeline" "netstat -tna | awk '{print \$5,\$6}' | sort | uniq -c | sort -n | tail -n 1 > /dev/null" \
    >/dev/null
  /usr/bin/python3 - "$out/$n.json" "$n" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
floor = next(r["median"] for r in results if r["command"] == "floor")
for r in results:
    print(f"| {int(sys.argv[2]):,} | {r['command']} | {r['median'] * 1000:.1f} | {r['median'] / floor:.2f} |")
PY
done

# The proxy against direct MariaDB (its own table).
bash bench/proxy.sh
