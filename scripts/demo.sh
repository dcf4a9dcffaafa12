#!/usr/bin/env bash
# The demo: installs what is needed, builds longlink, and shows `longlink diagnose` on the problem
# it was made for. In a private network namespace (nothing on this host is touched), a "legacy
# application" opens and closes a connection to MySQL's port for every query, 400 times a second,
# and a worker leaks connections its server closed (CLOSE_WAIT). longlink diagnose then explains
# the TIME_WAIT flood, its rate and its cure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh >/dev/null
bin=$PWD/build/src/longlink
ns=longlink-demo-$$
cleanup() {
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
# Loopback TIME_WAIT behaves like a remote server's only with tcp_tw_reuse=0 (the default 2
# reuses it on loopback and hides the churn: longlink says so when it sees that).
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=0

say "Before: the host is quiet"
ip netns exec "$ns" "$bin" diagnose --top 5 | sed -n '/^Findings/,$p'

say "A legacy app connects to MySQL (127.0.0.1:3306) once per query, 400 times a second, for 10 s"
ip netns exec "$ns" /usr/bin/python3 tests/tools/sockgen.py \
  --close-wait 6379 40 --established 127.0.0.1:3306 3 \
  --rate 400 --client-close 127.0.0.1:3306 4000 --hold </dev/null >/dev/null &
sleep 10.5

say "What the folk one-liner shows"
echo "\$ netstat -tna | awk '{print \$5,\$6}' | sort | uniq -c | sort -n | tail -n 1"
ip netns exec "$ns" bash -c "netstat -tna | awk '{print \$5,\$6}' | sort | uniq -c | sort -n | tail -n 1"

say "What longlink diagnose shows"
echo "\$ longlink diagnose"
ip netns exec "$ns" "$bin" diagnose --top 5

say "The same as JSON, for scripts (the verdict only)"
echo "\$ longlink diagnose --json   # then read .verdict"
ip netns exec "$ns" "$bin" diagnose --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])'
