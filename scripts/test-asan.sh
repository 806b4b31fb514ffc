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
#           under ASan), then the mpirun tests (label dist); except the tests labelled slow,
#           cuda_emu (the emulator) and faults (scripts/fault-tests.sh, run in the Release
#           suite)
#     libs  the core, data-layer and network tests only (labels core|data|models), no program
#     core  the engine's core tests only (MELGRAD_ONLY_CORE: the smallest build)
set -euo pipefail
cd "$(dirname "$0")/.."
scope=${1:-${ASAN_SCOPE:-wide}}
dist_select=()  # the mpirun tests, run apart (below); wide only
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
    dist_select=(-L dist -LE 'slow|cuda')
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
tests_of() { ctest --test-dir build-asan -N "$@" | sed -n 's/^ *Test *#[0-9]*: //p'; }
for name in $(tests_of "${select[@]}") $([ ${#dist_select[@]} -gt 0 ] && tests_of "${dist_select[@]}"); do
  ninja -C build-asan -t query "$name" >/dev/null 2>&1 && targets+=" $name"
done
MELGRAD_TARGETS="$programs$targets" scripts/build.sh build-asan "${config[@]}"
built=$(date +%s)
# Sanitizer reports exit with codes of their own, so a report inside a melgrad run is not
# mistaken for the exit 1 a test expects. Leaks inside libraries below melgrad that they
# cannot give back are suppressed by tests/sanitizers/lsan.supp.
export UBSAN_OPTIONS=halt_on_error=1:exitcode=87:print_stacktrace=1
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
ASAN_OPTIONS=detect_leaks=1:exitcode=86 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" "${select[@]}"
if [ ${#dist_select[@]} -gt 0 ]; then
  # mpirun: for the suppression file to recognise OpenMPI's allocations, its components stay
  # loaded at exit (else their frames are "<unknown module>") and the leak reports' stacks
  # are unwound in full (OpenMPI has no frame pointers): slower, so only for these tests.
  OMPI_MCA_mca_base_component_disable_dlclose=1 \
    ASAN_OPTIONS=detect_leaks=1:exitcode=86:fast_unwind_on_malloc=0 \
    ctest --test-dir build-asan --output-on-failure -j"$(nproc)" "${dist_select[@]}"
fi
echo "== sanitizer pass ($scope): build $((built - start)) s, tests $(($(date +%s) - built)) s"
