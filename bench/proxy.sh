#!/usr/bin/env bash
# Benchmarks `longlink proxy` against direct MariaDB, in one run on this machine:
#   1. short sessions/s (connect, SELECT 1, quit; 8 client processes): direct TCP, proxy TCP,
#      proxy Unix socket;
#   2. persistent point selects (sysbench oltp_point_select, 8 threads): direct vs proxy;
#   3. RSS per idle client with 10,000 idle clients on the Unix socket.
# Prints a markdown table of ratios against direct. Usage: sudo bash bench/proxy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/build/src/longlink
work=$(mktemp -d /tmp/longlink-bench.XXXXXX)
seconds=${BENCH_SECONDS:-10}
port=23306
ulimit -n "$(ulimit -Hn)"  # 10,000 idle clients: one descriptor each in proxy and client.
cleanup() {
  [[ -n ${proxy_pid:-} ]] && kill "$proxy_pid" 2>/dev/null || true
  [[ -n ${db_pid:-} ]] && kill "$db_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mariadb-install-db --no-defaults --datadir="$work/data" --user=root \
  --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults --datadir="$work/data" --user=root --port=$port --bind-address=127.0.0.1 \
  --socket="$work/mysqld.sock" --log-error="$work/error.log" --pid-file="$work/pid" \
  --innodb-buffer-pool-size=128M --skip-log-bin --max-connections=2000 >/dev/null 2>&1 &
db_pid=$!
for _ in $(seq 100); do
  mariadb --no-defaults -S "$work/mysqld.sock" -uroot -e "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.2
done
mariadb --no-defaults -S "$work/mysqld.sock" -uroot -e "
  CREATE DATABASE app; CREATE DATABASE sbtest;
  CREATE USER 'app'@'localhost' IDENTIFIED BY 'app-secret';
  CREATE USER 'app'@'%' IDENTIFIED BY 'app-secret';
  GRANT ALL ON app.* TO 'app'@'localhost'; GRANT ALL ON app.* TO 'app'@'%';
  GRANT ALL ON sbtest.* TO 'app'@'localhost'; GRANT ALL ON sbtest.* TO 'app'@'%';"
# Loopback TIME_WAIT reuse would let the direct run recycle ports; keep the defaults otherwise.
"$bin" proxy --backend 127.0.0.1:$port --listen 127.0.0.1:26033 --unix-socket "$work/proxy.sock" \
  --user app:app-secret --pool-size 16 --min-idle 8 --max-clients 20000 2>"$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done

rate() { /usr/bin/python3 bench/short_sessions.py "$@" 8 "$seconds"; }
direct_sessions=$(rate --tcp 127.0.0.1:$port)
proxy_tcp_sessions=$(rate --tcp 127.0.0.1:26033)
proxy_unix_sessions=$(rate --socket "$work/proxy.sock")

sb() {
  sysbench oltp_point_select --db-driver=mysql --mysql-user=app --mysql-password=app-secret \
    --mysql-db=sbtest --tables=1 --table-size=10000 "$@"
}
sb --mysql-host=127.0.0.1 --mysql-port=$port prepare >/dev/null
qps() { sb "$@" --threads=8 --time="$seconds" run | awk '/queries:/ {print $2; exit}'; }
direct_qps=$(qps --mysql-host=127.0.0.1 --mysql-port=$port)
proxy_qps=$(qps --mysql-socket="$work/proxy.sock")

# 10,000 idle clients: RSS before and after, divided by the clients.
rss() { awk '/VmRSS/ {print $2}' /proc/"$proxy_pid"/status; }
rss_before=$(rss)
/usr/bin/python3 - "$work/proxy.sock" 10000 <<'PY' &
import sys, socket, time
path, n = sys.argv[1], int(sys.argv[2])
import pymysql
conns = [pymysql.connect(unix_socket=path, user="app", password="app-secret") for _ in range(n)]
print("idle clients connected", flush=True)
time.sleep(30)
PY
idle_pid=$!
for _ in $(seq 600); do
  [[ $(ls /proc/"$proxy_pid"/fd | wc -l) -ge 10000 ]] && break
  sleep 0.1
done
sleep 1
rss_after=$(rss)
kill "$idle_pid" 2>/dev/null || true

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo
echo "| Measure | Direct | Through longlink | Ratio |"
echo "|---|---|---|---|"
echo "| Short sessions/s, TCP (8 clients) | $direct_sessions | $proxy_tcp_sessions | $(ratio "$proxy_tcp_sessions" "$direct_sessions") |"
echo "| Short sessions/s, Unix socket (8 clients) | $direct_sessions (TCP) | $proxy_unix_sessions | $(ratio "$proxy_unix_sessions" "$direct_sessions") |"
echo "| Point selects/s, sysbench (8 threads) | $direct_qps | $proxy_qps | $(ratio "$proxy_qps" "$direct_qps") |"
echo "| RSS per idle client (10,000 clients) | - | $(( (rss_after - rss_before) * 1024 / 10000 )) bytes | - |"
