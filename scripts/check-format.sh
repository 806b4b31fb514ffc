#!/usr/bin/env bash
# Checks that every tracked C++/CUDA source is formatted by the pinned clang-format (Debian 12's
# clang-format-14, with the repo's .clang-format): scripts/check-format.sh [--fix]
# Prints the files that differ and how to fix them; exit 1 when any does. --fix formats them.
set -euo pipefail
cd "$(dirname "$0")/.."
pinned=14
tool=$(command -v "clang-format-$pinned" || true)
if [ -z "$tool" ]; then
  echo "check-format: clang-format-$pinned not found (apt-get install clang-format-$pinned)" >&2
  exit 2
fi
version=$("$tool" --version)
case "$version" in
  *"version $pinned."*) ;;
  *) echo "check-format: expected clang-format $pinned, got: $version" >&2; exit 2 ;;
esac
mapfile -t files < <(git ls-files '*.c' '*.cc' '*.cpp' '*.h' '*.hpp' '*.cu' '*.cuh')
if [ "${1:-}" = "--fix" ]; then
  # Twice: clang-format 14 settles a few `MG_LAUNCH(...)(...)` lines only on a second pass.
  "$tool" -i "${files[@]}"
  "$tool" -i "${files[@]}"
  echo "check-format: formatted ${#files[@]} files with $version"
  exit 0
fi
# One run over all files; each difference is reported as "FILE:LINE:COL: error: ...".
mapfile -t bad < <("$tool" --dry-run --Werror "${files[@]}" 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error:.*/\1/p' | sort -u)
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} of ${#files[@]} files differ from clang-format-$pinned's output:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "fix with: scripts/check-format.sh --fix  (or clang-format-$pinned -i FILE)" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files match clang-format-$pinned"
