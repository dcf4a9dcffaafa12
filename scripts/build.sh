#!/usr/bin/env bash
# Configures and builds longlink into build/ (Ninja, ccache, warnings as errors).
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache: paths relative to the checkout, so that a clone in another folder (CI's) hits the
# cache a developer's build filled.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DLONGLINK_WERROR=ON "$@" >/dev/null
cmake --build build -j "$jobs"
