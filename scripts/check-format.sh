#!/usr/bin/env bash
# Fails when a C++ file tracked by git (or new and not ignored) is not clang-formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cc' '*.h' | sort -u)
existing=()
for f in "${files[@]}"; do [[ -f $f ]] && existing+=("$f"); done
if ((${#existing[@]} == 0)); then
  echo "check-format: no C++ files"
  exit 0
fi
if ! clang-format --dry-run -Werror "${existing[@]}"; then
  echo "check-format: run 'clang-format -i' on the files above" >&2
  exit 1
fi
echo "check-format: ${#existing[@]} files formatted"
