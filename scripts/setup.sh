#!/usr/bin/env bash
# Installs melgrad's build dependencies on Debian 12 (as root, or through sudo) when any is
# missing. Safe to run again: it does nothing when everything is there.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config     # build
  libeigen3-dev                        # CPU backend (Eigen 3.4)
  libhdf5-dev zlib1g-dev               # checkpoints and caches; .npy.gz
  doctest-dev libbenchmark-dev         # tests and benchmarks
  libboost-context-dev                 # fibers of the CUDA kernel emulator
  ccache                               # cheap rebuilds
  nlohmann-json3-dev                   # run configs, logs and metrics as JSON
  clang libclang-rt-14-dev             # libFuzzer target for the .npy parser
  clang-format-14                      # scripts/check-format.sh (the pinned formatter)
  libsndfile1-dev libsoxr-dev libfftw3-dev  # audio front end: decode, resample, FFT
  planetblupi-music-ogg                # real music (OGG) for the audio parity tests
  openmpi-bin libopenmpi-dev           # data-parallel training over MPI
  jq util-linux                        # scripts/fault-tests.sh: JSON checks, setpriv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "setup: CUDA toolkit found; CUDA sources will be compiled"
else
  echo "setup: no CUDA toolkit (nvcc); building without CUDA sources (the emulator still runs the kernels)"
fi
