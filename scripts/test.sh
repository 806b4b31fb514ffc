#!/usr/bin/env bash
# The test suite: installs dependencies, checks the formatting (scripts/check-format.sh:
# every C++/CUDA file as clang-format-14 writes it), builds, runs every test not labelled `slow`,
# then runs the sanitizer pass (scripts/test-asan.sh: the core, data, models and CPU
# end-to-end tests rebuilt under AddressSanitizer + UBSan), and fuzzes the .npy parser for a bounded time
# when its fuzz script is present. docs/TESTING.md has the details and costs.
#   scripts/test.sh                   default suite (what CI runs)
#   SLOW=1 scripts/test.sh            also the tests labelled `slow`
#   ASAN_SCOPE=libs scripts/test.sh   the sanitizer pass without the end-to-end tests
#   ASAN_SCOPE=core scripts/test.sh   the sanitizer pass on the engine's core tests only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== format (clang-format-14)"
scripts/check-format.sh

echo "== build (Release)"
scripts/build.sh build
label_args=(-LE slow)
[ "${SLOW:-0}" = "1" ] && label_args=()
echo "== tests"
ctest --test-dir build --output-on-failure -j"$(nproc)" "${label_args[@]}"

scripts/test-asan.sh "${ASAN_SCOPE:-wide}"

if [ -x scripts/fuzz-npy.sh ]; then
  echo "== fuzzing the .npy parser (bounded)"
  scripts/fuzz-npy.sh "${FUZZ_SECONDS:-60}"
fi
