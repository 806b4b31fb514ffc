#!/usr/bin/env bash
# The test suite: installs dependencies, builds, runs every test not labelled `slow`,
# then rebuilds the engine's core tests under AddressSanitizer + UBSan and runs them
# (ASAN_SCOPE=wide: also the data, models and CPU end-to-end tests), and fuzzes the .npy
# parser for a bounded time when its fuzz script is present.
#   scripts/test.sh                   default suite (what CI runs)
#   SLOW=1 scripts/test.sh            also the tests labelled `slow`
#   ASAN_SCOPE=wide scripts/test.sh   the sanitizer pass over core, data, models and the CPU
#                                     end-to-end tests (not slow, CUDA-emulator or fault-script
#                                     ones); its cost on 2 cores is not measured yet
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== build (Release)"
scripts/build.sh build
label_args=(-LE slow)
[ "${SLOW:-0}" = "1" ] && label_args=()
echo "== tests"
ctest --test-dir build --output-on-failure -j"$(nproc)" "${label_args[@]}"

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer (${ASAN_SCOPE:-core})"
# Wide: CUDA sources and benchmarks off; only the selected tests' targets (and the melgrad
# program the end-to-end tests run) are built. Sanitizer reports exit with codes of their
# own, so a report inside a melgrad run is not mistaken for the exit 1 a test expects.
asan_config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMELGRAD_SANITIZE=ON -DMELGRAD_ONLY_CORE=ON
  -DMELGRAD_CUDA=OFF)
asan_select=(-L core)
asan_programs=""
if [ "${ASAN_SCOPE:-core}" = wide ]; then
  asan_config+=(-DMELGRAD_ONLY_CORE=OFF -DMELGRAD_BUILD_BENCH=OFF)
  asan_select=(-L 'core|data|models|e2e' -LE 'slow|cuda_emu|faults')
  asan_programs=melgrad
fi
MELGRAD_TARGETS=melgrad_engine scripts/build.sh build-asan "${asan_config[@]}"
asan_targets=$(ctest --test-dir build-asan -N "${asan_select[@]}" | sed -n 's/^ *Test *#[0-9]*: //p')
MELGRAD_TARGETS="$asan_programs $(echo $asan_targets)" scripts/build.sh build-asan "${asan_config[@]}"
ASAN_OPTIONS=detect_leaks=1:exitcode=86 UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" "${asan_select[@]}"

if [ -x scripts/fuzz-npy.sh ]; then
  echo "== fuzzing the .npy parser (bounded)"
  scripts/fuzz-npy.sh "${FUZZ_SECONDS:-60}"
fi
