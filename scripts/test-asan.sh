#!/usr/bin/env bash
# The sanitizer pass of the test suite (scripts/test.sh runs it after the Release tests):
# builds in build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer (RelWithDebInfo,
# CUDA sources and benchmarks off) only the targets of the selected tests, plus the melgrad
# program that the end-to-end tests spawn, and runs those tests. docs/TESTING.md says what
# each scope runs and what it costs.
#   scripts/test-asan.sh [SCOPE]    SCOPE (or ASAN_SCOPE): wide (default), libs or core
#     wide  the engine's core, data-layer, network and CPU end-to-end tests (labels
#           core|data|models|e2e) with the melgrad program they spawn, built CPU-only
#           (MELGRAD_PROGRAM_CPU_ONLY: no CUDA backend, so the kernel emulator is not compiled
#           under ASan), except the tests labelled slow, cuda_emu (the emulator), faults
#           (scripts/fault-tests.sh, run in the Release suite) and dist (mpirun: OpenMPI's
#           own allocations trip LeakSanitizer)
#     libs  the same without the end-to-end tests and the program (labels core|data|models)
#     core  the engine's core tests only (MELGRAD_ONLY_CORE: the smallest build)
set -euo pipefail
cd "$(dirname "$0")/.."
scope=${1:-${ASAN_SCOPE:-wide}}
# -O1 (ASan's advice) and line tables only (-g1, enough for the reports' file:line): half the
# compile time of -O2 -g on these sources.
config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
  -DMELGRAD_SANITIZE=ON -DMELGRAD_CUDA=OFF -DMELGRAD_BUILD_BENCH=OFF)
case "$scope" in
  libs)
    config+=(-DMELGRAD_ONLY_CORE=OFF)
    select=(-L 'core|data|models' -LE dist)
    programs=""
    ;;
  wide)
    config+=(-DMELGRAD_ONLY_CORE=OFF -DMELGRAD_PROGRAM_CPU_ONLY=ON)
    select=(-L 'core|data|models|e2e' -LE 'slow|cuda_emu|faults|dist')
    programs=melgrad
    ;;
  core)
    config+=(-DMELGRAD_ONLY_CORE=ON)
    select=(-L core)
    programs=""
    ;;
  *)
    echo "test-asan.sh: unknown scope '$scope' (expected libs, wide or core)" >&2
    exit 2
    ;;
esac

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer ($scope)"
start=$(date +%s)
MELGRAD_TARGETS=melgrad_engine scripts/build.sh build-asan "${config[@]}"
# A test's name is its executable's target, except for extra runs of one executable
# (test_audio_e2e_music runs test_audio_e2e): names that are no target are left out here.
targets=""
for name in $(ctest --test-dir build-asan -N "${select[@]}" | sed -n 's/^ *Test *#[0-9]*: //p'); do
  ninja -C build-asan -t query "$name" >/dev/null 2>&1 && targets+=" $name"
done
MELGRAD_TARGETS="$programs$targets" scripts/build.sh build-asan "${config[@]}"
built=$(date +%s)
# Sanitizer reports exit with codes of their own, so a report inside a melgrad run is not
# mistaken for the exit 1 a test expects.
# Leaks inside libraries below melgrad that they cannot give back: tests/sanitizers/lsan.supp.
ASAN_OPTIONS=detect_leaks=1:exitcode=86 UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1 \
  LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0" \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" "${select[@]}"
echo "== sanitizer pass ($scope): build $((built - start)) s, tests $(($(date +%s) - built)) s"
