#!/usr/bin/env bash
# Installs everything longlink needs to build, test, benchmark and demo, from
# Debian 12 packages only. Idempotent: a second run installs nothing new.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ ccache pkg-config clang-format
  libcli11-dev libfmt-dev nlohmann-json3-dev libasio-dev libtomlplusplus-dev
  libssl-dev libsodium-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
  # diagnose: namespaces, reference tools for tests and benchmarks
  iproute2 net-tools procps hyperfine
  # the proxy's system calls per session are counted by a test
  strace
  # proxy: a real server and real clients for integration tests and the demo
  mariadb-server mariadb-client libmariadb-dev
  python3 python3-pytest python3-pymysql python3-mysqldb python3-sqlalchemy python3-django
  # PyMySQL's caching_sha2_password RSA exchange and client_ed25519
  python3-cryptography python3-nacl
  # /metrics is checked with the Prometheus client library's own text-format parser
  python3-prometheus-client
  sysbench
  # fuzzing (tests/fuzz, scripts/fuzz.sh): clang 14 with libFuzzer and its sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# Packages such as mariadb-server start their service on install; the project
# starts its own throwaway servers, so keep package scripts from starting any.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy == 1 ]] && $SUDO rm -f "$policy"' EXIT

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
