#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the whole study (`melgrad study`:
# genre CNN vs BiLSTM, beat-synchronised features, per-attribute regression, transfer
# learning, multitask) on the embedded synthetic data set (generated on first use), then
# prints where the report is. Extra arguments go to `melgrad study`, e.g.
#   bash scripts/run-study.sh --data /path/to/patreco3      # the real data set
#   bash scripts/run-study.sh --quick                        # two epochs per experiment
# STUDY_DIR chooses the output folder (default: runs/study-<time>).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Only the program is built (the tests and benchmarks are the test command's business), and
# the CUDA sources are compiled for the GPU only when one is present: nvcc takes minutes of
# the 15-minute budget, and without a GPU `--device cuda` runs through the kernel emulator.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  export MELGRAD_CUDA=AUTO
elif grep -q '^CMAKE_CUDA_COMPILER:.*nvcc' build/CMakeCache.txt 2>/dev/null; then
  # build/ was configured with CUDA (the test command ran first): keep it so (CMake cannot
  # turn CUDA off in a configured folder); its CUDA objects are built already.
  export MELGRAD_CUDA=AUTO
  echo "run-study: no NVIDIA GPU found; build/ has the CUDA sources already, the study runs on the CPU"
else
  export MELGRAD_CUDA=OFF
  echo "run-study: no NVIDIA GPU found; building the CPU program (the test command compiles the CUDA sources)"
fi
MELGRAD_TARGETS="melgrad" scripts/build.sh build
study_dir=${STUDY_DIR:-runs/study-$(date -u +%Y%m%d-%H%M%S)}
./build/experiments/melgrad study --out "$study_dir" "$@"
