#!/usr/bin/env bash
# Configures and builds melgrad: scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
# Environment: MELGRAD_CUDA=AUTO|ON|OFF (default AUTO: compile the CUDA sources when nvcc is
# found), MELGRAD_TARGETS="melgrad ..." (default: everything).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
[ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
# ccache, when installed, makes rebuilds (other build folders, fresh clones) cheap.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build_dir" "${launcher[@]}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMELGRAD_CUDA="${MELGRAD_CUDA:-AUTO}" "$@" >/dev/null
targets=()
[ -n "${MELGRAD_TARGETS:-}" ] && read -r -a names <<<"$MELGRAD_TARGETS" && targets=(--target "${names[@]}")
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
