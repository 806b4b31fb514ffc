#!/usr/bin/env bash
# Fetches, here (Debian 12, with a network), the build libraries that a bare GPU machine
# lacks, as .deb files into DIR (default .gpu-deps, ignored by git), for scripts/gpu-check.sh
# to unpack there without root or network (dpkg -x into a private prefix; nothing under /).
#   scripts/gpu-deps.sh [DIR]
# Then pass DIR along (the device tool: carry [".gpu-deps"]). gpu-check.sh uses it when it
# exists: CMake and pkg-config look in the prefix, and a library the machine itself lacks
# is reached through one folder of links (LD_LIBRARY_PATH), so none of the machine's own
# libraries (PyTorch's, the driver's) is shadowed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.gpu-deps}
packages=(
  libeigen3-dev doctest-dev nlohmann-json3-dev                  # header-only
  libboost1.74-dev libboost-context1.74-dev libboost-context1.74.0
  libbenchmark-dev libbenchmark1debian
  libhdf5-dev libhdf5-103-1 libhdf5-hl-100 libaec0 libsz2 zlib1g-dev
  libcurl4 libnghttp2-14 libpsl5 librtmp1 libssh2-1 libbrotli1 libldap-2.5-0 libsasl2-2
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2 libssl3
  libidn2-0 libunistring2 libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0 libtasn1-6
  libffi8 libzstd1                                              # libhdf5's libcurl
  libsndfile1-dev libsndfile1 libflac12 libogg0 libvorbis0a libvorbisenc2 libopus0
  libmpg123-0 libmp3lame0
  libsoxr-dev libsoxr0 libfftw3-dev libfftw3-double3
  pkgconf-bin libpkgconf3                                       # pkg-config (pkgconf)
)
mkdir -p "$dir"
(cd "$dir" && apt-get download "${packages[@]}")
du -sh "$dir"
