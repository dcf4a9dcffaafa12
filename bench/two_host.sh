#!/usr/bin/env bash
# The two-host benchmark (issue 17): the database on "another host", modelled on this one by
# bench/delay_link.cc, a user-space link that delays every byte by half a round trip each way
# and the server's greeting by 2 RTT after connect (this kernel has no netem). Topology:
#   direct: client --TCP--> link (RTT) --> mariadbd
#   proxy:  client --Unix socket or TCP--> longlink proxy --TCP--> link (RTT) --> mariadbd
#   floor:  client --Unix socket or TCP--> delay_link --rtt-us 0 --TCP--> link --> mariadbd
# The floor is a hop that pools nothing, in the proxy's place: the least that one more hop
# costs, and what a hop saves without pooling (nothing).
# Measures, each cell BENCH_REPEATS times (default 3), interleaved (round 1: every cell, round
# 2: every cell, ...), BENCH_SECONDS each (default 5, at least 3), and reports the best run
# (highest rate, lowest mean latency) with every run beside it:
#   1. short sessions/s (bench/short_sessions.cc: connect, SELECT 1, quit) with 1, 8 and 64
#      client threads: direct, proxy Unix socket, proxy TCP, floor Unix socket; ratios against
#      direct with as many clients;
#   2. the TIME_WAIT sockets each of those runs leaves: on the application's host, towards the
#      database host (dport 23307: the direct client's, the floor's or the proxy's backend
#      connections) and between client and hop (port 26033/26034, either end), and on the
#      server's side (the link's end of those connections, sport 23307, and both ends of its
#      connections to mariadbd, port 23306: a TIME_WAIT there is one the database host would
#      hold, or an extra socket of the model's). Counted from `ss` before and after the run,
#      socket by socket: those after the run that were not there before (so sockets of an
#      earlier run that expire or are reused meanwhile neither hide nor add any). Loopback
#      tcp_tw_reuse (net.ipv4.tcp_tw_reuse = 2, the default) lets a new connection take over a
#      TIME_WAIT socket older than 1 s: the counts are what the run left, at most one per
#      connection, fewer when the run's own were reused;
#   3. a persistent connection's query latency (bench/query_latency.cc, SELECT 1 back to back):
#      direct, floor Unix and TCP, proxy Unix and TCP; what each hop adds to the mean, and the
#      proxy's addition against the floor's (issue 17's target: at most 1.15x);
#   4. where the CPU goes (bench/lib.sh's measure), per session or query, including the floor
#      forwarder and the link (the link is "the network": its CPU stands for no host's).
# Ports: mariadbd 23306, the link 23307, the proxy 26033 (and $work/proxy.sock), the floor
# 26034 (and $work/floor.sock).
# Usage: bash bench/two_host.sh (BENCH_RTT_US, default 600; BENCH_SECONDS; BENCH_REPEATS;
# BENCH_NO_BUILD=1 and BENCH_LONGLINK_BIN as in bench/lib.sh). Installs and builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_SECONDS=${BENCH_SECONDS:-5}
source bench/lib.sh
rtt=${BENCH_RTT_US:-600}
repeats=${BENCH_REPEATS:-3}
link_bin=$PWD/build/bench/delay_link
latency_bin=$PWD/build/bench/query_latency
link_port=23307
proxy_port=26033
floor_port=26034
command_line="BENCH_RTT_US=$rtt BENCH_SECONDS=$seconds BENCH_REPEATS=$repeats bash bench/two_host.sh"
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

# wait_for WHAT TEST...: until TEST succeeds (10 s at most).
wait_for() {
  local what=$1
  shift
  for _ in $(seq 100); do
    "$@" && return
    sleep 0.1
  done
  echo "two_host.sh: $what did not come up" >&2
  exit 1
}
listening() { ss -Hltn "( sport = :$1 )" | grep -q .; }

# shellcheck disable=SC2119 # start_server: mariadbd's own arguments, none here
start_server
"$link_bin" --listen 127.0.0.1:$link_port --to 127.0.0.1:$port --rtt-us "$rtt" \
  2>"$work/link.log" &
link_pid=$!
helper_pids+=("$link_pid")
"$link_bin" --listen-unix "$work/floor.sock" --listen 127.0.0.1:$floor_port \
  --to 127.0.0.1:$link_port --rtt-us 0 2>"$work/floor.log" &
floor_pid=$!
helper_pids+=("$floor_pid")
wait_for "the link" listening $link_port
wait_for "the floor" test -S "$work/floor.sock"
"$bin" proxy --backend 127.0.0.1:$link_port --listen 127.0.0.1:$proxy_port \
  --unix-socket "$work/proxy.sock" --user app:app-secret --pool-size 16 --min-idle 8 \
  --max-clients 20000 2>"$work/proxy.log" &
proxy_pid=$!
wait_for "the proxy" test -S "$work/proxy.sock"
split_extra_names=("floor forwarder" "network (delay_link)")
split_extra_pids=("$floor_pid" "$link_pid")

# The TIME_WAIT sockets matching FILTER (an ss filter), one a line: local address, peer
# address and the seconds it has left. ss prints those as 1min, 43sec (whole seconds from 10 s
# up), 9.123ms (seconds and milliseconds) or 123ms.
tw_list() {
  ss -Htano state time-wait "$1" | awk '{
    if (!match($0, /timewait,[^,]*/)) next
    t = substr($0, RSTART + 9, RLENGTH - 9); s = 0
    if (t ~ /min/) { s = 60 * t; sub(/^[0-9]+min/, "", t) }
    if (t ~ /sec$/) s += t
    else if (t ~ /\./) s += t
    else if (t ~ /ms$/) s += t / 1000
    print $3, $4, s
  }'
}
# tw_new BEFORE AFTER ELAPSED: how many sockets of list AFTER (tw_list) are new since list
# BEFORE, taken ELAPSED seconds earlier: absent from it, or there again with more time left
# than it had, whole seconds rounded down on both readings (closed, reused by tw_reuse and
# closed again).
tw_new() {
  awk -v e="$3" 'FILENAME == ARGV[1] { left[$1 " " $2] = $3; next }
    !(($1 " " $2) in left) || $3 > left[$1 " " $2] - e + 2 { n++ }
    END { print n + 0 }' "$1" "$2"
}
# The application host's sockets towards the database host; its sockets between client and
# hop, either end; the database host's: the link's ends of the connections it accepted,
# mariadbd's, and the link's own towards mariadbd (the model's, one more per connection).
app_db="( dport = :$link_port )"
app_hop="( dport = :$proxy_port or dport = :$floor_port"
app_hop+=" or sport = :$proxy_port or sport = :$floor_port )"
server_side="( sport = :$link_port or sport = :$port or dport = :$port )"
tw_filters=("$app_db" "$app_hop" "$server_side")

# sessions KEY LABEL PROXY_PID|- ARGS... THREADS: one short-session run, with the TIME_WAIT it
# left; sets rate_[KEY], and tw_[KEY] ("to-db to-hop server-side").
declare -A rate_ tw_ split_
sessions() {
  local key=$1 label=$2 proxy=$3
  shift 3
  local i start elapsed counts=()
  start=$EPOCHREALTIME
  for i in "${!tw_filters[@]}"; do tw_list "${tw_filters[$i]}" >"$work/tw-before.$i"; done
  measure "$label" sessions "$proxy" "$sessions_bin" "$@" "$seconds"
  sleep 0.2  # the hops' and the link's own closes
  for i in "${!tw_filters[@]}"; do tw_list "${tw_filters[$i]}" >"$work/tw-after.$i"; done
  elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
  for i in "${!tw_filters[@]}"; do
    counts+=("$(tw_new "$work/tw-before.$i" "$work/tw-after.$i" "$elapsed")")
  done
  rate_[$key]=$measured
  tw_[$key]="${counts[*]}"
  split_[$key]=${split_rows[-1]}
}

# latency KEY LABEL PROXY_PID|- ARGS...: one query_latency run; sets rate_[KEY] (queries/s)
# and lat_[KEY] ("mean p50 p99" in µs).
declare -A lat_
latency() {
  local key=$1 label=$2 proxy=$3
  shift 3
  measure "$label" queries "$proxy" "$latency_bin" "$@" "$seconds"
  rate_[$key]=$measured
  lat_[$key]=$(awk '{
    for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    print v["mean_us"], v["p50_us"], v["p99_us"]
  }' "$work/client.out")
  split_[$key]=${split_rows[-1]}
}

threads_list=(1 8 64)
session_variants=(direct proxy_unix proxy_tcp floor_unix)
latency_variants=(direct floor_unix floor_tcp proxy_unix proxy_tcp)
declare -A where_ label_ hop_
where_[direct]="--tcp 127.0.0.1:$link_port"
where_[proxy_unix]="--socket $work/proxy.sock"
where_[proxy_tcp]="--tcp 127.0.0.1:$proxy_port"
where_[floor_unix]="--socket $work/floor.sock"
where_[floor_tcp]="--tcp 127.0.0.1:$floor_port"
label_[direct]="direct TCP"
label_[proxy_unix]="longlink Unix socket"
label_[proxy_tcp]="longlink TCP"
label_[floor_unix]="floor Unix socket"
label_[floor_tcp]="floor TCP"
hop_[direct]=-
hop_[proxy_unix]=$proxy_pid
hop_[proxy_tcp]=$proxy_pid
hop_[floor_unix]=-
hop_[floor_tcp]=-

# Warm-up: the proxy's pool filled, every path used once.
for variant in "${session_variants[@]}"; do
  read -ra args <<<"${where_[$variant]}"
  "$sessions_bin" "${args[@]}" 8 1 >/dev/null
done

for ((round = 1; round <= repeats; round++)); do
  echo "two_host.sh: round $round of $repeats" >&2
  for threads in "${threads_list[@]}"; do
    for variant in "${session_variants[@]}"; do
      read -ra args <<<"${where_[$variant]}"
      sessions "s,$variant,$threads,$round" \
        "Short sessions, ${label_[$variant]}, $threads clients" "${hop_[$variant]}" \
        "${args[@]}" "$threads"
    done
  done
  for variant in "${latency_variants[@]}"; do
    read -ra args <<<"${where_[$variant]}"
    latency "l,$variant,$round" "Latency, ${label_[$variant]}" "${hop_[$variant]}" "${args[@]}"
  done
done

# best_rate PREFIX: the round with the highest rate_[PREFIX,round].
best_rate() {
  local r best=1 a b
  for ((r = 2; r <= repeats; r++)); do
    a=${rate_[$1,$r]}
    b=${rate_[$1,$best]}
    ((a > b)) && best=$r
  done
  echo "$best"
}
# best_latency PREFIX: the round with the lowest mean in lat_[PREFIX,round].
best_latency() {
  local r best=1
  for ((r = 2; r <= repeats; r++)); do
    awk -v a="${lat_[$1,$r]%% *}" -v b="${lat_[$1,$best]%% *}" 'BEGIN { exit !(a < b) }' &&
      best=$r
  done
  echo "$best"
}
# runs ARRAY PREFIX [FIELD]: every round's value ("a / b / c"), FIELD-th word (default 1).
runs() {
  local -n values=$1
  local r out="" words
  for ((r = 1; r <= repeats; r++)); do
    read -ra words <<<"${values[$2,$r]}"
    out+="${out:+ / }${words[${3:-0}]}"
  done
  echo "$out"
}

best_split=()
declare -A best_
for threads in "${threads_list[@]}"; do
  for variant in "${session_variants[@]}"; do
    best_[s,$variant,$threads]=$(best_rate "s,$variant,$threads")
    best_split+=("${split_[s,$variant,$threads,${best_[s,$variant,$threads]}]}")
  done
done
for variant in "${latency_variants[@]}"; do
  best_[l,$variant]=$(best_latency "l,$variant")
  best_split+=("${split_[l,$variant,${best_[l,$variant]}]}")
done

echo
echo "Two hosts modelled with bench/delay_link.cc: RTT $rtt µs ($((rtt / 2)) µs each way, the"
echo "server's greeting 2 RTT after connect); $seconds s per run, best of $repeats interleaved runs."
echo "Command: $command_line"
echo
echo "Short sessions/s (connect, SELECT 1, quit), best run (all runs):"
echo
echo "| Clients | direct TCP | longlink Unix socket | longlink TCP | floor Unix socket | longlink Unix / direct | longlink TCP / direct | floor Unix / direct |"
echo "|---|---|---|---|---|---|---|---|"
for threads in "${threads_list[@]}"; do
  line="| $threads |"
  declare -A best_rate_=()
  for variant in "${session_variants[@]}"; do
    best_rate_[$variant]=${rate_[s,$variant,$threads,${best_[s,$variant,$threads]}]}
    line+=" ${best_rate_[$variant]} ($(runs rate_ "s,$variant,$threads")) |"
  done
  for variant in proxy_unix proxy_tcp floor_unix; do
    line+=" $(ratio "${best_rate_[$variant]}" "${best_rate_[direct]}") |"
  done
  echo "$line"
done

echo
echo "TIME_WAIT sockets each short-session run left, every run (a / b / c), and per session"
echo "(all runs together; sessions taken as rate x $seconds s): on the application's host"
echo "towards the database host (dport $link_port) and between client and hop (port"
echo "$proxy_port/$floor_port), and on the server's side (the link's end of the connections it"
echo "accepted, and its connections to mariadbd, port $port: a TIME_WAIT the database host"
echo "would hold if it closed first, or the model's own):"
echo
echo "| Run | app side, to the database | app side, client to hop | per session (app side) | server side |"
echo "|---|---|---|---|---|"
for threads in "${threads_list[@]}"; do
  for variant in "${session_variants[@]}"; do
    key="s,$variant,$threads"
    per_session=$(for ((r = 1; r <= repeats; r++)); do
      read -ra c <<<"${tw_[$key,$r]}"
      echo "$((c[0] + c[1])) ${rate_[$key,$r]}"
    done | awk -v s="$seconds" '{ tw += $1; n += $2 * s } END { printf "%.2f", n ? tw / n : 0 }')
    echo "| ${label_[$variant]}, $threads clients | $(runs tw_ "$key" 0) | $(runs tw_ "$key" 1) | $per_session | $(runs tw_ "$key" 2) |"
  done
done

echo
echo "Query latency, one persistent connection (SELECT 1 back to back), best run by mean"
echo "(all runs' means); what the hop adds = its mean less direct's:"
echo
echo "| Path | mean µs | p50 µs | p99 µs | queries/s | added µs |"
echo "|---|---|---|---|---|---|"
declare -A mean_ p50_
for variant in "${latency_variants[@]}"; do
  read -r mean p50 p99 <<<"${lat_[l,$variant,${best_[l,$variant]}]}"
  mean_[$variant]=$mean
  p50_[$variant]=$p50
  added=$(awk -v m="$mean" -v d="${mean_[direct]}" 'BEGIN { printf "%+.1f", m - d }')
  [[ $variant == direct ]] && added=-
  echo "| ${label_[$variant]} | $mean ($(runs lat_ "l,$variant")) | $p50 | $p99 | ${rate_[l,$variant,${best_[l,$variant]}]} | $added |"
done
echo
echo "What longlink adds against what the floor adds (issue 17's target: at most 1.15x, of the"
echo "means; the medians' ratio beside it, as the means carry this shared machine's stalls):"
echo
echo "| Hop | longlink adds µs, mean (p50) | floor adds µs, mean (p50) | Ratio of means | Ratio of p50s |"
echo "|---|---|---|---|---|"
# added_ratio LONGLINK FLOOR DIRECT: (LONGLINK - DIRECT) / (FLOOR - DIRECT), "-" unless the
# floor added something.
added_ratio() {
  if awk -v f="$2" -v d="$3" 'BEGIN { exit !(f > d) }'; then
    awk -v p="$1" -v f="$2" -v d="$3" 'BEGIN { printf "%.2fx", (p - d) / (f - d) }'
  else
    echo "- (the floor added nothing)"
  fi
}
added() { awk -v a="$1" -v d="$2" 'BEGIN { printf "%.1f", a - d }'; }
declare -A hop_label=([unix]="Unix socket" [tcp]=TCP)
for kind in unix tcp; do
  line="| ${hop_label[$kind]} |"
  line+=" $(added "${mean_[proxy_$kind]}" "${mean_[direct]}")"
  line+=" ($(added "${p50_[proxy_$kind]}" "${p50_[direct]}")) |"
  line+=" $(added "${mean_[floor_$kind]}" "${mean_[direct]}")"
  line+=" ($(added "${p50_[floor_$kind]}" "${p50_[direct]}")) |"
  line+=" $(added_ratio "${mean_[proxy_$kind]}" "${mean_[floor_$kind]}" "${mean_[direct]}") |"
  line+=" $(added_ratio "${p50_[proxy_$kind]}" "${p50_[floor_$kind]}" "${p50_[direct]}") |"
  echo "$line"
done

echo
echo "Where the CPU goes, per session or query, in each cell's best run (the link is the"
echo "network: its CPU belongs to no host; the floor forwarder's column is the floor's hop):"
echo
split_rows=("${best_split[@]}")
print_split_table
