#!/usr/bin/env bash
# Benchmarks TLS in `longlink proxy` against MariaDB's own TLS, in one run on this machine.
# MariaDB offers TLS with a throwaway CA and a server certificate for IP:127.0.0.1 and
# DNS:localhost, made with the openssl CLI in the scratch directory (BENCH_TLS_KEY=rsa, RSA
# 2048, the default; or ec, P-256). Clients that ask for TLS verify the certificate; the proxy's
# [backend_tls] verifies the server's (ca, verify on, session resumption on) and its
# [client_tls] presents the same certificate as the server (and, as MariaDB with --ssl-ca,
# checks client certificates against the CA). Pool settings as bench/proxy.sh's.
#   1. short sessions/s (connect, SELECT 1, quit; 8 threads of bench/short_sessions, which with
#      --ssl-ca insists on TLS) over TCP: direct plain, direct TLS (the baseline of the TLS
#      rows), the proxy with TLS on the client side only, on the backend side only, on both;
#      and through the proxy's Unix socket (a plain client) with TLS to the backend;
#   2. persistent point selects (sysbench oltp_point_select, 8 threads) over TCP: direct plain,
#      direct TLS (the baseline), the proxy with TLS on the client side, the backend side, both.
#      sysbench 1.0.20 has --mysql-ssl=on only: libmariadb then loads cacert.pem,
#      client-cert.pem and client-key.pem from the current directory (made here, signed by the
#      CA); a check connection before each such row reads the cipher it got (--mysql-debug) and
#      the row is left out, with a note, if it got none (the backend-side row then counts
#      against direct plain);
#   3. for reference, both through the proxy without TLS (plain clients of the client-side
#      proxy, which offers TLS to those who ask), against direct plain: the proxy's own cost,
#      for the CPU split to tell its cost of TLS apart;
#   4. for each proxy row, the backend connections the proxy opened during it (the server's
#      Connections counter): with pooling they are few, so the backend's TLS handshakes (and
#      their session resumption) stay off the per-session path. Whether a handshake resumed does
#      not show in the server's status (stateless tickets), so it is not counted.
# Prints a markdown table of ratios to each row's baseline (the TLS rows against direct TLS;
# direct TLS against direct plain), then, as bench/proxy.sh, the CPU time and context switches
# per unit of work (session or query) of the client, the server and the proxy.
# Usage: sudo bash bench/tls.sh (BENCH_SECONDS=N per measurement, default 10, at least 4).
# Installs and builds first (BENCH_NO_BUILD=1: uses build/ as is). Shared parts: bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
key_type=${BENCH_TLS_KEY:-rsa}
proxy_port=26033

# The PKI: a CA, the server's certificate (also the proxy's, toward clients) and a client
# certificate for sysbench, which insists on loading one.
tls=$work/tls
mkdir -p "$tls"
case $key_type in
  rsa) newkey=(-newkey rsa:2048) key_name="RSA 2048" ;;
  ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) key_name="EC P-256" ;;
  *) echo "BENCH_TLS_KEY: rsa or ec, not '$key_type'" >&2; exit 2 ;;
esac
openssl req -x509 "${newkey[@]}" -nodes -days 2 -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" \
  -subj "/O=longlink bench/CN=longlink bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
# sign NAME SUBJECT_CN EXTENSIONS: NAME.pem and NAME-key.pem, signed by the CA.
sign() {
  openssl req "${newkey[@]}" -nodes -keyout "$tls/$1-key.pem" -out "$tls/$1.csr" \
    -subj "/O=longlink bench/CN=$2" 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" "$3" \
    >"$tls/$1.ext"
  openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$tls/$1.ext" \
    -out "$tls/$1.pem" 2>/dev/null
}
sign server localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
sign client "longlink bench client" "extendedKeyUsage=clientAuth"
sysbench_tls=$work/sysbench-tls  # sysbench --mysql-ssl=on runs here
mkdir -p "$sysbench_tls"
cp "$tls/ca.pem" "$sysbench_tls/cacert.pem"
cp "$tls/client.pem" "$sysbench_tls/client-cert.pem"
cp "$tls/client-key.pem" "$sysbench_tls/client-key.pem"

start_server --ssl-cert="$tls/server.pem" --ssl-key="$tls/server-key.pem" --ssl-ca="$tls/ca.pem"
status() {
  mariadb --no-defaults -S "$work/mysqld.sock" -uroot -N -B \
    -e "SHOW GLOBAL STATUS LIKE '$1'" | awk '{print $2}'
}

# start_proxy NAME CLIENT_TLS BACKEND_TLS (0 or 1 each): the proxy on 127.0.0.1:$proxy_port and
# $work/proxy.sock, its configuration in $work/NAME.toml (proxy_pid).
start_proxy() {
  local config=$work/$1.toml
  cat >"$config" <<EOF
[listen]
tcp = ["127.0.0.1:$proxy_port"]
unix_socket = "$work/proxy.sock"

[backend]
address = "127.0.0.1:$port"

[pool]
max_connections = 16
min_idle = 8

[[users]]
name = "app"
password = "app-secret"
EOF
  if (($2)); then
    cat >>"$config" <<EOF

[client_tls]
cert = "$tls/server.pem"
key = "$tls/server-key.pem"
ca = "$tls/ca.pem"
EOF
  fi
  if (($3)); then
    cat >>"$config" <<EOF

[backend_tls]
ca = "$tls/ca.pem"
verify = true
server_name = "127.0.0.1"
session_resumption = true
EOF
  fi
  chmod 600 "$config"
  rm -f "$work/proxy.sock"
  "$bin" proxy --config "$config" 2>"$work/$1.log" &
  proxy_pid=$!
  for _ in $(seq 50); do [[ -S $work/proxy.sock ]] && break; sleep 0.1; done
  if ! kill -0 "$proxy_pid" 2>/dev/null || [[ ! -S $work/proxy.sock ]]; then
    echo "the proxy ($1) did not start; its log:" >&2
    cat "$work/$1.log" >&2
    exit 1
  fi
}
stop_proxy() {
  kill "$proxy_pid"
  wait "$proxy_pid" 2>/dev/null || true
  proxy_pid=
}

# Rows of the ratio table: "label|baseline|baseline name|rate|backend connects".
rows=()
# run KIND LABEL PROXY_PID|- ARGS...: one measurement (KIND sessions: short_sessions ARGS;
# queries: sysbench ARGS), its row added with the backend connections opened meanwhile (through
# the proxy; "-" direct); sets `measured`.
run() {
  local kind=$1 label=$2 proxy=$3; shift 3
  local connections_before
  connections_before=$(status Connections)
  if [[ $kind == sessions ]]; then
    measure "$label" sessions "$proxy" "$sessions_bin" "$@" 8 "$seconds"
  else
    measure "$label" queries "$proxy" "$@" --threads=8 --time="$seconds" run
  fi
  # The status query's own connection is one of them.
  backend_connects=$(($(status Connections) - connections_before - 1))
  if [[ $proxy == - ]]; then backend_connects=-; fi
}
row() { rows+=("$1|$2|$3|$measured|$backend_connects"); }

tcp=(--tcp "127.0.0.1:$port")
proxy_tcp=(--tcp "127.0.0.1:$proxy_port")
ca=(--ssl-ca "$tls/ca.pem")
sb=(sysbench oltp_point_select --db-driver=mysql --mysql-user=app --mysql-password=app-secret
  --mysql-db=sbtest --tables=1 --table-size=10000)
sb_direct=(--mysql-host=127.0.0.1 "--mysql-port=$port")
sb_proxy=(--mysql-host=127.0.0.1 "--mysql-port=$proxy_port")
sb_tls=(env -C "$sysbench_tls" "${sb[@]}" --mysql-ssl=on)
"${sb[@]}" "${sb_direct[@]}" prepare >/dev/null
# The cipher of one sysbench connection with --mysql-ssl=on to ARGS ("" if plain or failed).
sysbench_cipher() {
  { "${sb_tls[@]}" "$@" --mysql-debug=on --threads=1 --events=1 --time=0 run 2>&1 || true; } |
    sed -n 's/.*mysql_get_ssl_cipher(con): "\(.*\)".*/\1/p' | sed -n 1p
}
notes=()
# tls_qps LABEL PROXY_PID|- ARGS...: a sysbench TLS row, or a note if sysbench got no TLS.
tls_qps() {
  local cipher
  cipher=$(sysbench_cipher "${@:3}")
  if [[ -z $cipher || $cipher == "(null)" ]]; then
    notes+=("$1: left out, sysbench's --mysql-ssl=on connection got no TLS")
    measured=
    return
  fi
  run queries "$1" "$2" "${sb_tls[@]}" "${@:3}"
}

run sessions "Short sessions, direct TCP, plain" - "${tcp[@]}"
direct_plain_sessions=$measured
run sessions "Short sessions, direct TCP, TLS" - "${ca[@]}" "${tcp[@]}"
direct_tls_sessions=$measured
row "Short sessions/s, direct TLS (vs direct plain)" "$direct_plain_sessions" "direct plain"
run queries "Point selects, direct TCP, plain" - "${sb[@]}" "${sb_direct[@]}"
direct_plain_qps=$measured
tls_qps "Point selects, direct TCP, TLS" - "${sb_direct[@]}"
direct_tls_qps=$measured
qps_baseline=$direct_tls_qps qps_baseline_name="direct TLS"
if [[ -n $direct_tls_qps ]]; then
  row "Point selects/s, direct TLS (vs direct plain)" "$direct_plain_qps" "direct plain"
else  # sysbench without TLS: the backend-side rows still count, against direct plain
  qps_baseline=$direct_plain_qps qps_baseline_name="direct plain"
fi

# proxied_rows LABEL CLIENT_TLS (0 or 1): the rows of the running proxy's configuration; with
# plain clients, also short sessions through its Unix socket.
proxied_rows() {
  local label=$1 client_tls=$2 sessions_args=()
  ((client_tls)) && sessions_args=("${ca[@]}")
  run sessions "Short sessions, longlink TCP, $label" "$proxy_pid" "${sessions_args[@]}" \
    "${proxy_tcp[@]}"
  row "Short sessions/s, longlink TCP, $label" "$direct_tls_sessions" "direct TLS"
  if ((!client_tls)); then
    run sessions "Short sessions, longlink Unix socket, $label" "$proxy_pid" \
      --socket "$work/proxy.sock"
    row "Short sessions/s, longlink Unix socket (plain client), $label" "$direct_tls_sessions" \
      "direct TLS, TCP"
    run queries "Point selects, longlink TCP, $label" "$proxy_pid" "${sb[@]}" "${sb_proxy[@]}"
  else
    tls_qps "Point selects, longlink TCP, $label" "$proxy_pid" "${sb_proxy[@]}"
  fi
  if [[ -n $measured ]]; then
    row "Point selects/s, longlink TCP, $label" "$qps_baseline" "$qps_baseline_name"
  fi
}
start_proxy tls-client 1 0
# Plain clients through the same proxy (it offers TLS, they do not ask): the proxy's own cost
# without TLS, for reference.
run sessions "Short sessions, longlink TCP, no TLS" "$proxy_pid" "${proxy_tcp[@]}"
row "Short sessions/s, longlink TCP, no TLS (reference, vs direct plain)" \
  "$direct_plain_sessions" "direct plain"
run queries "Point selects, longlink TCP, no TLS" "$proxy_pid" "${sb[@]}" "${sb_proxy[@]}"
row "Point selects/s, longlink TCP, no TLS (reference, vs direct plain)" "$direct_plain_qps" \
  "direct plain"
proxied_rows "TLS client side only" 1
stop_proxy
start_proxy tls-backend 0 1
proxied_rows "TLS backend side only" 0
stop_proxy
start_proxy tls-both 1 1
proxied_rows "TLS both sides" 1
stop_proxy

echo
echo "| Measure (8 clients, $key_name keys) | Baseline | Measured | Ratio | Backend connects during the run |"
echo "|---|---|---|---|---|"
for r in "${rows[@]}"; do
  IFS='|' read -r label base base_name value connects <<<"$r"
  echo "| $label | $base ($base_name) | $value | $(ratio "$value" "$base") | $connects |"
done
for n in "${notes[@]}"; do echo "- $n"; done
echo
print_split_table
