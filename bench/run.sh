#!/usr/bin/env bash
# One command for longlink's benchmarks:
#   bash bench/run.sh [--diagnose-only | --tls-only | --txn-only | --ps-only | --counting-only |
#     --two-host-only] [SIZES...]
# First bench/diagnose.sh with SIZES (default 60000 600000): `longlink diagnose --json` against
# a bare sock_diag dump (the floor) and the pipelines operators use, in fresh network namespaces
# holding that many TIME_WAIT sockets; its time, peak RSS and --watch CPU. Then, unless
# --diagnose-only, bench/proxy.sh (the proxy against direct MariaDB), bench/tls.sh (the proxy
# with TLS on either side against MariaDB's own TLS), bench/txn_pool.sh (2,000 clients
# running short transactions through a transaction pool of 32 backend connections, against
# direct) and bench/ps_pool.sh (sysbench point selects with server-side prepared statements,
# direct, through session pooling and through a transaction pool of 4) and bench/two_host.sh
# (the database on another host, modelled by a user-space link with a round-trip delay,
# BENCH_RTT_US: short sessions, the TIME_WAIT they leave and a persistent connection's latency,
# direct, through the proxy and through a do-nothing forwarder); BENCH_SECONDS per
# measurement. --tls-only runs bench/tls.sh alone, --txn-only bench/txn_pool.sh alone,
# --ps-only bench/ps_pool.sh alone, --two-host-only bench/two_host.sh alone, --counting-only
# bench/counting.sh alone (the per-command counting's cost, against BENCH_BASELINE_BIN if set;
# not in the full run). Needs root (namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
diagnose_only=0
tls_only=0
txn_only=0
ps_only=0
counting_only=0
two_host_only=0
if [[ ${1:-} == --diagnose-only ]]; then
  diagnose_only=1
  shift
elif [[ ${1:-} == --tls-only ]]; then
  tls_only=1
  shift
elif [[ ${1:-} == --txn-only ]]; then
  txn_only=1
  shift
elif [[ ${1:-} == --ps-only ]]; then
  ps_only=1
  shift
elif [[ ${1:-} == --counting-only ]]; then
  counting_only=1
  shift
elif [[ ${1:-} == --two-host-only ]]; then
  two_host_only=1
  shift
fi

if ((tls_only)); then
  bash bench/tls.sh
  exit
fi
if ((txn_only)); then
  bash bench/txn_pool.sh
  exit
fi
if ((ps_only)); then
  bash bench/ps_pool.sh
  exit
fi
if ((counting_only)); then
  bash bench/counting.sh
  exit
fi
if ((two_host_only)); then
  bash bench/two_host.sh
  exit
fi
bash bench/diagnose.sh "$@"
((diagnose_only)) && exit
bash bench/proxy.sh
bash bench/tls.sh
bash bench/txn_pool.sh
bash bench/ps_pool.sh
bash bench/two_host.sh
