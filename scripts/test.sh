#!/usr/bin/env bash
# The test command (CI runs it): installs what is needed, builds, and runs every test (unit,
# integration against real sockets and servers, format check) through ctest; then the
# integration suites of the proxy again on an ASan+UBSan build with LeakSanitizer checking
# every proxy's exit (build-asan/); then every fuzz target on its corpus and for a bounded time
# (scripts/fuzz.sh, build-fuzz/). Each part prints its wall time; all parts run even if one
# fails, and the script fails if any did.
# Environment: LONGLINK_ASAN_TESTS, a ctest -R regex of the suites run under ASan (default
# below); LONGLINK_FUZZ_SECONDS, the time per fuzz target (default 20); either set to "off"
# skips that part.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache: paths relative to the checkout, so that a clone in another folder (CI's) hits the
# cache a developer's build filled.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
jobs=$(nproc 2>/dev/null || echo 2)
asan_tests=${LONGLINK_ASAN_TESTS:-'^integration\.(proxy|resilience|libmariadb|accounts|tls|compression|transaction_pooling)$'}
fuzz_seconds=${LONGLINK_FUZZ_SECONDS:-20}

failed=()
part() {
  local name=$1
  shift
  local start=$SECONDS
  echo "test.sh: == $name"
  if "$@"; then
    echo "test.sh: == $name: ok in $((SECONDS - start)) s"
  else
    echo "test.sh: == $name: FAILED after $((SECONDS - start)) s"
    failed+=("$name")
  fi
}

asan_build() {
  cmake -S . -B build-asan -G Ninja -DLONGLINK_WERROR=ON -DLONGLINK_SANITIZE=ON >/dev/null &&
    cmake --build build-asan -j "$jobs" --target longlink libmariadb_client
}

bash scripts/install-deps.sh
part build bash scripts/build.sh
if [[ ${failed[*]-} == build ]]; then
  echo "test.sh: FAILED: build"
  exit 1
fi
part tests ctest --test-dir build --output-on-failure --timeout 600 -j "$jobs"
if [[ $asan_tests != off ]]; then
  part asan-build asan_build
  if [[ " ${failed[*]-} " != *" asan-build "* ]]; then
    part asan-tests ctest --test-dir build-asan --output-on-failure --timeout 900 -L asan \
      -R "$asan_tests"
  fi
fi
if [[ $fuzz_seconds != off ]]; then
  part fuzz bash scripts/fuzz.sh "$fuzz_seconds"
fi

if ((${#failed[@]} > 0)); then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all parts ok in $SECONDS s"
