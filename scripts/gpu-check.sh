#!/usr/bin/env bash
# The GPU check: everything melgrad's CUDA path needs checked on a real GPU, in ONE run of at
# most 8 minutes on one H100 or H200, from a bare machine (16 cores, the CUDA toolkit,
# PyTorch; no network), with its results in OUT_DIR.
#
#   scripts/gpu-check.sh [--dry-run] [--build DIR] [--no-build] [--total SECONDS] OUT_DIR
#
# Stages, in order of value, each under its own time cap (`timeout`; a stage that runs over
# is cut and reported as such, and the run goes on with the next), and all of them under the
# total (--total, default 480 s: a stage gets at most what is left of it):
#   stage          cap   what
#   deps             -   unpack the carried .gpu-deps (below), once per machine: seconds
#   build          240 s configure for the GPU's architecture only (CMAKE_CUDA_ARCHITECTURES
#                        from nvidia-smi's compute capability, e.g. 90) and build just the
#                        targets below, -j16 (all cores)
#   native-tests    90 s ctest -L cuda: test_cuda_native, test_kernels_cuda and any native
#                        end-to-end test (label cuda)
#   kernel-bench    60 s bench_kernels_cuda (melgrad beside cuBLAS/cuDNN) → bench-kernels-gpu.json,
#                        bench/peers/torch_layers_cuda.py (PyTorch) → bench-layers-torch-gpu.json
#   step-bench      75 s scripts/bench-step-gpu.sh: a training step of each study model, melgrad
#                        (CUDA graph and eager) beside PyTorch eager → bench-step-gpu.json/.md
#   sanitizer       60 s compute-sanitizer memcheck, racecheck, synccheck on the kernel tests
#                        that fit (test_kernels_cuda, filtered), a third of the cap each
#   report          15 s bench/peers/gpu_report.py → gpu-report.md (the tables of
#                        docs/PERFORMANCE.md), written even when stages failed
# Sum of caps: 540 s > 480 s on purpose: the total cuts whatever runs last (the sanitizer
# and the report keep what is left; the report is cheap and always given 15 s).
# Without PyTorch on the machine the PyTorch columns stay empty and the summary says so.
# OUT_DIR gets: summary.md and summary.json (each stage's status: ok, failed (exit code),
# cut (ran over its cap) or skipped (why), and its seconds), one log per stage, the JSON of
# the benchmarks and gpu-report.md. Exit status: 0 when every stage that ran passed.
#
# Why it fits. The build: the 176 steps of these targets (compiles and links of
# test_cuda_native, test_kernels_cuda, bench_kernels_cuda, melgrad and the libraries they
# link) took 573 s of compile time on the 2-core development machine (ninja's log of a cold
# build, 2026-12-06, g++ 12 and nvcc 13.0 for sm_80 + sm_90: 231 s of it the 26 .cu files,
# about half of that for the one architecture built here); the longest single step took 18 s
# (gemm.cu). On 16 cores that is about 573 / 16 ≈ 36 s of parallel work, bounded below by
# that longest step; with configure (CUDA detection, ~30 s) about 1-2 minutes, well under
# the build's 240 s cap even on cores half as fast. The rest is capped stage by stage:
# 480 s in all, leaving a 15-minute device lease room for the machine's start, this run
# and a rerun after a fix.
#
# A bare machine lacks the build's libraries (Eigen, doctest, HDF5, Boost.Context, Google
# Benchmark, nlohmann-json, libsndfile, soxr, FFTW3): fetch them here first with
# scripts/gpu-deps.sh (28 MB of .deb files into .gpu-deps, ignored by git) and carry that
# folder along; the check unpacks them into /tmp/melgrad-deps (checked here: a configure
# that ignores /usr finds every one of them there). Without .gpu-deps, the machine's own
# libraries are used, and a configure that fails names the missing ones.
# MELGRAD_GPU_CMAKE_ARGS adds cmake options to the GPU configure.
#
# --dry-run (automatic when nvidia-smi finds no GPU): the same stages with the emulator
# build (no nvcc, no GPU): the emulator's kernel tests and the CUDA backend's tests through
# the emulator, a smoke run of bench_kernels_emu (a few cases, short), the step and sanitizer
# stages skipped ("no GPU"), and the same files, each marked "no GPU". --no-build uses the
# build folder as it is (what the CTest test test_gpu_check_dry_run does).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

dry=0 build="" no_build=0 total=480 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1; shift ;;
    --build) build=$2; shift 2 ;;
    --no-build) no_build=1; shift ;;
    --total) total=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    -*) echo "gpu-check.sh: unknown option $1" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
[ -n "$out" ] || { echo "usage: scripts/gpu-check.sh [--dry-run] [--build DIR] [--no-build] OUT_DIR" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd)

[ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
gpu_name="" compute_cap=""
if [ "$dry" = 0 ] && command -v nvidia-smi >/dev/null 2>&1 &&
  line=$(nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader 2>/dev/null | head -1) &&
  [ -n "$line" ]; then
  gpu_name=${line%%,*}
  compute_cap=$(echo "${line##*,}" | tr -d ' .')
else
  dry=1
fi
if [ "$dry" = 1 ]; then
  device="no GPU (dry run: emulator build)"
  [ -n "$build" ] || build=build
else
  device="$gpu_name (sm_$compute_cap)"
  [ -n "$build" ] || build=build-gpu
fi
mkdir -p "$build" && build=$(cd "$build" && pwd)
nproc=$(nproc)
have_torch=0
if [ "$dry" = 0 ] && python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  have_torch=1
fi

# Build libraries a bare machine lacks, carried as .deb files (scripts/gpu-deps.sh): unpacked
# into a private prefix (dpkg-deb -x; nothing under /), found there by CMake and pkg-config;
# a shared library the machine itself lacks is linked into one folder on LD_LIBRARY_PATH, so
# none of the machine's own libraries is shadowed.
deps_note=""
unpack_deps() {
  local debs=("$root"/.gpu-deps/*.deb) prefix=/tmp/melgrad-deps f so name
  [ -f "${debs[0]}" ] || { deps_note="no .gpu-deps: the machine's own libraries"; return; }
  local lib=$prefix/usr/lib/x86_64-linux-gnu
  # Unpacked once per machine (a rerun on a warm one finds the same packages there).
  if [ "$(cat "$prefix/.packages" 2>/dev/null)" != "$(basename -a "${debs[@]}")" ]; then
    rm -rf "$prefix" && mkdir -p "$prefix"
    for f in "${debs[@]}"; do dpkg-deb -x "$f" "$prefix"; done
    rm -f "$prefix"/usr/bin/h5*  # compiler wrappers naming /usr: FindHDF5 then searches paths
    # pkg-config files name /usr: point them at the prefix.
    sed -i -e "s|=/usr|=$prefix/usr|" -e "s| -L/usr| -L$prefix/usr|g" \
      -e "s| -I/usr| -I$prefix/usr|g" "$lib"/pkgconfig/*.pc "$prefix"/usr/share/pkgconfig/*.pc 2>/dev/null
    basename -a "${debs[@]}" >"$prefix/.packages"
  fi
  rm -rf "$prefix/missing-libs" && mkdir -p "$prefix/missing-libs"
  local known
  known=$(ldconfig -p | awk '{print $1}')
  for so in "$lib"/*.so.[0-9]*; do  # by soname (libfoo.so.N), what the loader asks for
    name=$(basename "$so")
    [[ $name =~ \.so\.[0-9]+$ ]] || continue
    grep -qxF "$name" <<<"$known" || ln -sf "$so" "$prefix/missing-libs/$name"
  done
  export CMAKE_PREFIX_PATH="$prefix/usr:$lib/hdf5/serial${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export PKG_CONFIG_PATH="$lib/pkgconfig:$prefix/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$prefix/missing-libs"
  command -v pkg-config >/dev/null || export PKG_CONFIG="$prefix/usr/bin/pkgconf"
  # FindHDF5 searches only under HDF5_ROOT (not a machine's own h5cc, which names its HDF5).
  export HDF5_ROOT="$lib/hdf5/serial"
  deps_note="${#debs[@]} carried packages in $prefix; $(ls "$prefix/missing-libs" | wc -l) libraries the machine lacked"
}

start=$(date +%s)
summary_rows=()   # "stage|status|seconds|note"
failed=0

# run_stage NAME CAP NOTE COMMAND...: runs COMMAND (a shell function) under
# timeout(min(CAP, what is left of the total)), its output in OUT/NAME.log.
run_stage() {
  local name=$1 cap=$2 note=$3
  shift 3
  local left=$((total - ($(date +%s) - start)))
  [ "$name" = report ] && [ "$left" -lt "$cap" ] && left=$cap  # the report always runs
  [ "$cap" -gt "$left" ] && cap=$left
  if [ "$cap" -le 0 ]; then
    summary_rows+=("$name|cut|0|no time left of the ${total} s total")
    return
  fi
  echo "== $name (cap ${cap} s)" >&2
  local t0 rc status
  t0=$(date +%s)
  # A function cannot run under `timeout` directly: hand its text (and the helpers') to bash.
  STAGE_CAP=$cap timeout --kill-after=10 "$cap" \
    bash -c "$(declare -f "$@" merge_step_json); $*" >"$out/$name.log" 2>&1
  rc=$?
  local secs=$(($(date +%s) - t0))
  case $rc in
    0) status=ok ;;
    77) status=skipped ;;
    124|137) status=cut; note="ran over its ${cap} s cap${note:+; $note}"; failed=1 ;;
    *) status="failed (exit $rc)"; failed=1
       note="$(tail -1 "$out/$name.log" | tr '|' '/' | cut -c1-160); see $name.log${note:+; $note}" ;;
  esac
  [ "$rc" = 77 ] && note="$(tail -1 "$out/$name.log")"
  summary_rows+=("$name|$status|$secs|$note")
  echo "   $status in ${secs} s" >&2
}
skip_stage() { summary_rows+=("$1|skipped|0|$2"); echo "== $1: skipped ($2)" >&2; }
export root build out dry nproc compute_cap have_torch

# ---- the stages (run by run_stage in a child bash; 77 = skipped, its last line says why) --
stage_build() {
  set -e
  if [ "$dry" = 1 ]; then
    # The build folder's own configuration (with or without nvcc): these targets are the
    # emulator's in both.
    MELGRAD_TARGETS="test_kernels_emu test_kernels test_cuda bench_kernels_emu" \
      "$root/scripts/build.sh" "$build"
  else
    # A bare machine may lack a library the build needs (Eigen, doctest, HDF5, Boost.Context,
    # Google Benchmark, nlohmann-json, libsndfile/soxr/FFTW3): name the missing ones last.
    local pkgconfig=()
    [ -z "${PKG_CONFIG:-}" ] || pkgconfig=(-DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG")
    if ! cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMELGRAD_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES="$compute_cap" -DMELGRAD_NATIVE=ON "${pkgconfig[@]}" \
      ${MELGRAD_GPU_CMAKE_ARGS:-} >"$build/configure.log" 2>&1; then
      cat "$build/configure.log"
      echo "configure failed; missing: $(grep -oE "(Could NOT find|provided by|No package) '?[A-Za-z0-9_]+'?" \
        "$build/configure.log" | awk '{print $NF}' | tr -d "'\"" | sort -u | tr '\n' ' ')"
      return 1
    fi
    cat "$build/configure.log"
    # The programs of every CTest test labelled cuda (native-tests runs them all), the
    # GPU benchmarks and the melgrad program (bench-step; end-to-end tests run it).
    local tests
    # (ctest names a test's program only once it exists: read it from CTestTestfile.cmake.)
    tests=$(ctest --test-dir "$build" -L '^cuda$' --show-only=json-v1 | python3 -c '
import glob, json, os, re, sys
names = {t["name"] for t in json.load(sys.stdin)["tests"]}
programs = set()
for f in glob.glob(os.path.join(sys.argv[1], "**", "CTestTestfile.cmake"), recursive=True):
    for name, exe in re.findall(r"add_test\(\[=\[(.+?)\]=\] \"([^\"]+)\"", open(f).read()):
        if name in names:
            programs.add(os.path.basename(exe))
print(" ".join(sorted(programs)))' "$build")
    echo "targets: $tests bench_kernels_cuda melgrad"
    # shellcheck disable=SC2086  # one word per target
    cmake --build "$build" -j"$nproc" --target $tests bench_kernels_cuda melgrad
  fi
}

stage_native_tests() {
  set -e
  if [ "$dry" = 1 ]; then  # the same tests through the emulator
    "$build/tests/kernels/test_kernels_emu"
    "$build/tests/kernels/test_kernels" --test-case='*gemm*,*softmax*,*reduce*,*transpose*'
    "$build/tests/cuda/test_cuda" --test-case-exclude='*train*,*study*,*step graph*'
  else
    ctest --test-dir "$build" -L '^cuda$' --output-on-failure --timeout 85
  fi
}

stage_kernel_bench() {
  set -e
  if [ "$dry" = 1 ]; then  # a smoke run: the benchmarks start, time and write JSON
    "$build/kernels/bench_kernels_emu" --benchmark_filter='BM_gemm_melgrad/|BM_softmax_forward/' \
      --benchmark_min_time=0.01 --benchmark_out="$out/bench-kernels-emu.json" \
      --benchmark_out_format=json
    return
  fi
  # The cases gpu_report.py reads (no CPU references): conv, pool, batch norm, BiLSTM, GEMM.
  "$build/kernels/bench_kernels_cuda" --benchmark_min_time=0.05 \
    --benchmark_filter='^(conv_|batch_norm|max_pool|BM_bilstm_study|BM_gemm_(melgrad|cublas))' \
    --benchmark_out="$out/bench-kernels-gpu.json" --benchmark_out_format=json
  if [ "$have_torch" = 1 ]; then
    python3 "$root/bench/peers/torch_layers_cuda.py" --backend cudnn --min-seconds 0.1 --json \
      >"$out/bench-layers-torch-gpu.json"
  else
    echo "PyTorch with CUDA is missing: no PyTorch layer figures"
  fi
}

# One model at a time, each into its own JSON, so a cut keeps the models done before it.
stage_step_bench() {
  local torch=() model rc=0
  [ "$have_torch" = 1 ] || torch=(--no-torch)
  for model in cnn-beat lstm-beat cnn-full lstm-full cnn-full-wide; do
    "$root/scripts/bench-step-gpu.sh" --build "$build" "${torch[@]}" --min-seconds 0.5 \
      --out "$out/bench-step-gpu-$model.json" --md "$out/bench-step-gpu-$model.md" "$model" || rc=$?
  done
  return "$rc"
}

# Merges OUT/bench-step-gpu-MODEL.json (one per model) into OUT/bench-step-gpu.json.
merge_step_json() {
  python3 - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
parts = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "bench-step-gpu-*.json")))]
if parts:
    doc = {k: parts[0].get(k) for k in ("gpu", "torch", "cudnn")}
    doc["summary"] = [s for p in parts for s in p.get("summary", [])]
    doc["runs"] = [r for p in parts for r in p.get("runs", [])]
    json.dump(doc, open(os.path.join(out, "bench-step-gpu.json"), "w"), indent=1)
PY
}

# Each tool gets a third of the stage's cap; one that runs over is cut (reported, and the
# stage fails as cut), one that finds an error fails the stage.
stage_sanitizer() {
  command -v compute-sanitizer >/dev/null || { echo "compute-sanitizer is not on the PATH"; exit 77; }
  local per=$((STAGE_CAP / 3 - 2)) worst=0 tool rc
  # The kernel tests with shared memory, barriers and warp collectives, at their test sizes.
  local cases='*softmax*,*reduce*,*transpose*,*batchnorm*,*pool*,*gemm*,*lstm*'
  for tool in memcheck racecheck synccheck; do
    echo "== compute-sanitizer --tool $tool (cap ${per} s)"
    timeout --kill-after=5 "$per" compute-sanitizer --tool "$tool" --error-exitcode 1 \
      "$build/tests/kernels/test_kernels_cuda" --test-case="$cases"
    rc=$?
    case $rc in
      0) echo "== $tool: no error" ;;
      124|137) echo "== $tool: cut at ${per} s (no error found before)"; [ "$worst" = 0 ] && worst=124 ;;
      *) echo "== $tool: FAILED (exit $rc)"; worst=1 ;;
    esac
  done
  return "$worst"
}

stage_report() {
  set -e
  merge_step_json
  local f
  for f in "$out"/bench-*.json; do  # a stage cut while writing leaves a file half written
    [ -f "$f" ] || continue
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$f" 2>/dev/null ||
      { mv "$f" "$f.partial"; echo "$(basename "$f"): incomplete (its stage was cut), left out"; }
  done
  local step="$out/bench-step-gpu.json" kernels="$out/bench-kernels-gpu.json"
  local torch="$out/bench-layers-torch-gpu.json"
  [ -f "$step" ] || step=""
  [ -f "$kernels" ] || kernels=""
  [ -f "$torch" ] || torch=""
  if [ "$dry" = 1 ]; then  # emulator timings are the CPU's: no tables
    printf '%s\n\n%s\n' "# GPU report: no GPU (dry run: emulator build)" \
      "No figures: the benchmarks ran through the kernel emulator (bench-kernels-emu.json) only to show that they start and write JSON." \
      >"$out/gpu-report.md"
    return
  fi
  {
    echo "# GPU report"
    [ "$have_torch" = 1 ] || echo "PyTorch with CUDA is missing on this machine: the PyTorch columns are empty."
    echo
    python3 "$root/bench/peers/gpu_report.py" --step "$step" --kernels "$kernels" \
      --torch-layers "$torch"
  } >"$out/gpu-report.md"
}

# ---- run them -------------------------------------------------------------------------
if [ "$dry" = 0 ] && [ "${MELGRAD_GPU_DEPS:-1}" != 0 ]; then
  t0=$(date +%s)
  unpack_deps
  summary_rows+=("deps|ok|$(($(date +%s) - t0))|$deps_note")
fi
if [ "$no_build" = 1 ]; then
  skip_stage build "--no-build: the build folder $build as it is"
else
  run_stage build 240 "" stage_build
fi
run_stage native-tests 90 "" stage_native_tests
run_stage kernel-bench 60 "" stage_kernel_bench
if [ "$dry" = 1 ]; then
  skip_stage step-bench "no GPU: a training step through the emulator times the CPU, not a GPU"
  skip_stage sanitizer "no GPU: compute-sanitizer needs one (the emulator's own checks ran in native-tests)"
else
  torch_note=""
  [ "$have_torch" = 1 ] || torch_note="PyTorch with CUDA is missing: PyTorch columns empty"
  run_stage step-bench 75 "$torch_note" stage_step_bench
  export SANITIZER_CAP=60
  run_stage sanitizer 60 "" stage_sanitizer
fi
run_stage report 15 "" stage_report

# ---- the summary ------------------------------------------------------------------------
elapsed=$(($(date +%s) - start))
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
{
  echo "# GPU check: $device"
  echo
  echo "commit $commit, $(date -u +%Y-%m-%dT%H:%M:%SZ), ${elapsed} s of ${total} s, $nproc cores"
  [ "$dry" = 1 ] && echo "no GPU: the emulator build ran the stages that make sense without one."
  echo
  echo "| stage | status | seconds | note |"
  echo "| --- | --- | ---: | --- |"
  for row in "${summary_rows[@]}"; do
    IFS='|' read -r s st sec note <<<"$row"
    echo "| $s | $st | $sec | $note |"
  done
} >"$out/summary.md"
python3 - "$out/summary.json" "$device" "$commit" "$elapsed" "$total" "$dry" "${summary_rows[@]}" <<'EOF'
import json, sys
path, device, commit, elapsed, total, dry, *rows = sys.argv[1:]
stages = []
for row in rows:
    name, status, secs, note = row.split("|", 3)
    stages.append({"stage": name, "status": status, "seconds": int(secs), "note": note})
doc = {"device": device, "gpu": dry != "1", "commit": commit, "seconds": int(elapsed),
       "total_cap_seconds": int(total), "stages": stages}
with open(path, "w") as f:
    json.dump(doc, f, indent=1)
EOF
cat "$out/summary.md" >&2
exit "$failed"
