#!/usr/bin/env bash
# The test command: installs what is needed, builds, and runs every test (unit, integration
# against real sockets and servers, format check) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir build --output-on-failure --timeout 600 -j "$jobs"
