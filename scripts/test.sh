#!/usr/bin/env bash
# The test suite: installs dependencies, builds, runs every test not labelled `slow`,
# then rebuilds the engine's core tests under AddressSanitizer + UBSan and runs them, and
# fuzzes the .npy parser for a bounded time when its fuzz script is present.
#   scripts/test.sh            default suite (what CI runs)
#   SLOW=1 scripts/test.sh     also the tests labelled `slow`
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== build (Release)"
scripts/build.sh build
label_args=(-LE slow)
[ "${SLOW:-0}" = "1" ] && label_args=()
echo "== tests"
ctest --test-dir build --output-on-failure -j"$(nproc)" "${label_args[@]}"

echo "== core tests under AddressSanitizer + UndefinedBehaviorSanitizer"
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMELGRAD_SANITIZE=ON \
  -DMELGRAD_ONLY_CORE=ON -DMELGRAD_CUDA=OFF
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -L core

if [ -x scripts/fuzz-npy.sh ]; then
  echo "== fuzzing the .npy parser (bounded)"
  scripts/fuzz-npy.sh "${FUZZ_SECONDS:-60}"
fi
