#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan+UBSan) into build-fuzz/ and runs each:
# first on its committed corpus as a regression (-runs=0: every seed once), then for a bounded
# time from that corpus into a scratch directory (new inputs are never written into the
# repository). Fails on any crash, sanitizer report, leak or timeout; the input that did it is
# left as build-fuzz/findings/<target>/crash-* (or leak-*, timeout-*), with the command to
# replay it.
# Usage: scripts/fuzz.sh [seconds per target, default 20] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache: paths relative to the checkout, so that a clone in another folder (CI's) hits the
# cache a developer's build filled.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
seconds=${1:-20}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(server_packets_fuzzer client_packets_fuzzer framer_fuzzer response_fuzzer
    session_fuzzer)
fi

cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" >/dev/null
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)" --target "${targets[@]}"

failed=()
for target in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/${target%_fuzzer}
  scratch=build-fuzz/scratch/$target
  findings=build-fuzz/findings/$target
  rm -rf "$scratch" "$findings"
  mkdir -p "$scratch" "$findings"
  log=build-fuzz/$target.log
  # -timeout: one input longer than this is a hang; -rss_limit_mb: one input using more is a
  # finding too; -error_exitcode: libFuzzer's own code for findings, kept distinct.
  options=(-timeout=25 -rss_limit_mb=2048 -error_exitcode=77 -artifact_prefix="$findings/")
  start=$SECONDS
  if ! "build-fuzz/$target" "${options[@]}" -runs=0 "$corpus" >"$log" 2>&1; then
    echo "fuzz: $target FAILED replaying $corpus; the end of $log:"
    tail -n 40 "$log"
    failed+=("$target")
    continue
  fi
  if ! "build-fuzz/$target" "${options[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    "$scratch" "$corpus" >>"$log" 2>&1; then
    echo "fuzz: $target FAILED after $((SECONDS - start)) s; the end of $log:"
    tail -n 40 "$log"
    for artifact in "$findings"/*; do
      [[ -e $artifact ]] && echo "fuzz: replay with: build-fuzz/$target $artifact"
    done
    failed+=("$target")
    continue
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "fuzz: $target ok: $(find "$corpus" -type f | wc -l) seeds replayed, $runs runs in" \
    "$((SECONDS - start)) s"
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ok"
