#!/usr/bin/env bash
# Builds the libFuzzer target for the .npy parser (datasets/fuzz/fuzz_npy.cpp) with clang
# in its own build folder and runs it for a bounded time with a small seed corpus.
#
#   scripts/fuzz-npy.sh [SECONDS]        default 60
#
# Needs clang (clang++-14 on Debian 12) and libFuzzer's runtime (Debian: libclang-rt-14-dev),
# plus zlib1g-dev. Environment: CLANGXX (compiler, default clang++ or clang++-14),
# MELGRAD_FUZZ_BUILD (build folder, default build-fuzz/). Exits non-zero when the fuzzer
# finds a crash, a sanitizer error, a leak, a timeout or an out-of-memory input; the
# reproducer is left in the build folder (crash-*, leak-*, timeout-*, oom-*).
set -euo pipefail

SECONDS_TO_RUN="${1:-60}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${MELGRAD_FUZZ_BUILD:-$ROOT/build-fuzz}"
CXX="${CLANGXX:-}"
if [[ -z "$CXX" ]]; then
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null 2>&1; then CXX="$c"; break; fi
  done
fi
[[ -n "$CXX" ]] || { echo "fuzz-npy: clang++ not found (install clang-14)" >&2; exit 2; }

mkdir -p "$BUILD/corpus" "$BUILD/seeds"
echo "fuzz-npy: building with $CXX into $BUILD"
"$CXX" -std=c++20 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$ROOT" \
  "$ROOT/datasets/fuzz/fuzz_npy.cpp" "$ROOT/datasets/npy.cpp" "$ROOT/datasets/file_io.cpp" \
  -lz -o "$BUILD/fuzz_npy"

# Seeds: the NumPy-written fixture files (versions 1.0/2.0/3.0, <f4/<f8, Fortran order, gzip).
# Plus every input that once crashed the parser (datasets/fuzz/regressions/), re-run first.
find "$ROOT/tests/data/fixtures/quirky" -name '*.npy*' -size -16k -exec cp {} "$BUILD/seeds/" \;
cp "$ROOT"/datasets/fuzz/regressions/* "$BUILD/seeds/"

cd "$BUILD"
echo "fuzz-npy: running for ${SECONDS_TO_RUN}s"
./fuzz_npy -max_total_time="$SECONDS_TO_RUN" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -dict="$ROOT/datasets/fuzz/npy.dict" -print_final_stats=1 corpus seeds
