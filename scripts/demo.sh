#!/usr/bin/env bash
# The demo: installs what is needed, builds longlink, and shows the problem and its cure on two
# private network namespaces (nothing on this host is touched), each with its own throwaway
# MariaDB on 127.0.0.1:3306:
#   host A: a "legacy application" opens a new MySQL connection for every query, directly;
#   host B: the same application connects through `longlink proxy` on a Unix socket.
# `longlink diagnose` runs on both before and after the same burst of short sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh >/dev/null
bin=$PWD/build/src/longlink
sessions=${DEMO_SESSIONS:-2000}
work=$(mktemp -d /tmp/longlink-demo.XXXXXX)
namespaces=()

cleanup() {
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  done
  sleep 1
  for ns in "${namespaces[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A namespace with loopback up and its own MariaDB (user app / app-secret, schema app).
start_host() {
  local ns=$1 dir=$work/$1
  ip netns add "$ns"
  namespaces+=("$ns")
  ip netns exec "$ns" ip link set lo up
  # Loopback TIME_WAIT behaves like a remote server's only with tcp_tw_reuse=0.
  ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=0
  mkdir -p "$dir"
  mariadb-install-db --no-defaults --datadir="$dir/data" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
  ip netns exec "$ns" mariadbd --no-defaults --datadir="$dir/data" --user=root --port=3306 \
    --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" --log-error="$dir/error.log" \
    --pid-file="$dir/mysqld.pid" --innodb-buffer-pool-size=32M --skip-log-bin \
    --max-connections=500 </dev/null >/dev/null 2>&1 &
  for _ in $(seq 100); do
    mariadb --no-defaults -S "$dir/mysqld.sock" -uroot -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
  done
  mariadb --no-defaults -S "$dir/mysqld.sock" -uroot -e "
    CREATE DATABASE app;
    CREATE USER 'app'@'localhost' IDENTIFIED BY 'app-secret';
    CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret';
    GRANT ALL ON app.* TO 'app'@'localhost'; GRANT ALL ON app.* TO 'app'@'%';"
}

server_connections() {
  mariadb --no-defaults -S "$work/$1/mysqld.sock" -uroot -N -e \
    "SHOW GLOBAL STATUS LIKE 'Connections'" | awk '{print $2}'
}

findings() { sed -n '/^Findings/,/^Suggested/p' | sed '$d'; }

say "Two hosts, each with MariaDB on 127.0.0.1:3306; host B also runs longlink proxy"
start_host longlink-demo-a-$$
start_host longlink-demo-b-$$
a=longlink-demo-a-$$
b=longlink-demo-b-$$
ip netns exec "$b" "$bin" proxy --backend 127.0.0.1:3306 --unix-socket "$work/proxy.sock" \
  --user app:app-secret --pool-size 4 --workers 2 </dev/null 2>"$work/proxy.log" &
for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done
echo "\$ longlink proxy --backend 127.0.0.1:3306 --unix-socket $work/proxy.sock \\"
echo "    --user app:app-secret --pool-size 4"
sed 's/^/  /' "$work/proxy.log"

say "Before: longlink diagnose on host A"
ip netns exec "$a" "$bin" diagnose --top 5 | findings

before_a=$(server_connections "$a")
before_b=$(server_connections "$b")
say "Host A: the application connects directly, $sessions short sessions (connect, SELECT 1, quit)"
ip netns exec "$a" /usr/bin/python3 scripts/demo_burst.py --tcp 127.0.0.1:3306 "$sessions"
say "Host B: the same application, through longlink's Unix socket"
ip netns exec "$b" /usr/bin/python3 scripts/demo_burst.py --socket "$work/proxy.sock" "$sessions"

say "After, host A (direct): longlink diagnose"
ip netns exec "$a" "$bin" diagnose --top 5
say "After, host B (through longlink proxy): longlink diagnose"
ip netns exec "$b" "$bin" diagnose --top 5

say "Summary"
tw_a=$(ip netns exec "$a" ss -Htan state time-wait | wc -l)
tw_b=$(ip netns exec "$b" ss -Htan state time-wait | wc -l)
printf '%-28s %14s %22s\n' "" "TIME_WAIT now" "new server connections"
printf '%-28s %14s %22s\n' "host A, direct" "$tw_a" "$(($(server_connections "$a") - before_a - 1))"
printf '%-28s %14s %22s\n' "host B, via longlink proxy" "$tw_b" "$(($(server_connections "$b") - before_b - 1))"
echo "(the -1 leaves out this script's own count query)"
