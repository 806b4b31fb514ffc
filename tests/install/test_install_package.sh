#!/usr/bin/env bash
# The installed package, as a user meets it: installs the build into a fresh prefix outside
# the source and build trees, then builds the README's engine example against that prefix
#   1. with find_package(melgrad) in a small CMake project (plus a program on melgrad::models,
#      melgrad::datasets, melgrad::cuda_emu and melgrad::dist, the other libraries the README
#      names), and
#   2. with pkg-config (melgrad.pc),
# runs each and compares the example's output with the one the README quotes. It fails when
# a compile or link line names the source or build tree, when the program loads the engine
# from anywhere but the prefix, when the package accepts a version or component it should
# refuse, or (3.) when it does not name what is missing on a machine without part of it.
# Usage: test_install_package.sh BUILD_DIR SOURCE_DIR CXX_COMPILER VERSION
set -euo pipefail
build_dir=$(realpath "$1")
source_dir=$(realpath "$2")
cxx=$3
version=$4
# Only the prefix may supply melgrad: no include or library paths from the environment.
unset CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH LIBRARY_PATH

fail() {
  printf 'test_install_package: FAILED: %b\n' "$*" >&2
  exit 1
}
# Fails when text (a compile/link line, a path list) names the source or build tree.
check_outside_trees() {
  local what=$1 text=$2
  if grep -qF -e "$source_dir" -e "$build_dir" <<<"$text"; then
    fail "$what names the source tree ($source_dir) or the build tree ($build_dir):\n$text"
  fi
}

work=$(mktemp -d "${TMPDIR:-/tmp}/melgrad-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
check_outside_trees "the temporary folder" "$work"
prefix=$work/prefix

echo "== cmake --install $build_dir --prefix $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log"; fail "cmake --install"; }
for file in include/melgrad/engine/ops/ops.h lib/libmelgrad_engine.so \
            lib/cmake/melgrad/melgradConfig.cmake lib/cmake/melgrad/melgradConfigVersion.cmake \
            lib/pkgconfig/melgrad.pc; do
  [ -f "$prefix/$file" ] || fail "the prefix lacks $file"
done

# The README's example: the ```cpp block after the marker line.
mkdir -p "$work/src"
awk '/<!-- engine example:/ {marked = 1; next}
     marked && /^```cpp/ {inside = 1; next}
     inside && /^```/ {exit}
     inside {print}' "$source_dir/README.md" >"$work/src/engine_example.cpp"
[ -s "$work/src/engine_example.cpp" ] ||
  fail "README.md has no \`\`\`cpp block after a line '<!-- engine example: ... -->'"

# Runs a built example and compares its output with the README's quote.
check_example_output() {
  cmake -DPROGRAM="$1" -DPAGE="$source_dir/README.md" -DNAME=engine_example \
        "-DLABEL=the engine example" -P "$source_dir/examples/check_output.cmake"
}
# Fails unless the program loads libmelgrad_engine.so from the prefix.
check_engine_from_prefix() {
  local loaded
  loaded=$(ldd "$1" | grep libmelgrad_engine) || fail "$1 does not load libmelgrad_engine.so"
  grep -qF "$prefix/lib/libmelgrad_engine.so" <<<"$loaded" ||
    fail "$1 loads the engine from elsewhere: $loaded"
}

# ---- 1. find_package ---------------------------------------------------------------------
cat >"$work/src/components_example.cpp" <<'EOF'
// The libraries beside the engine: a CNN (melgrad::models), an op on the CUDA backend in the
// kernel emulator (melgrad::cuda_emu), a .npy round trip (melgrad::datasets), the
// single-process world of data-parallel training (melgrad::dist, outside mpirun).
#include <iostream>

#include "datasets/npy.h"
#include "engine/dist/transport.h"
#include "engine/ops/ops.h"
#include "models/cnn.h"
using namespace melgrad;

int main() {
  models::CnnConfig config;
  config.channels = {1, 4};
  config.frames = 8;
  config.bands = 8;
  config.hidden = {8};
  config.outputs = 3;
  models::CnnNet net(config, 7);
  Tensor scores = net.forward_image(Tensor::ones({2, 1, 8, 8}));
  Tensor on_device = relu(Tensor::ones({4}).to(Device::cuda())).to(Device::cpu());
  std::vector<double> values{1, 2, 3};
  std::vector<uint8_t> bytes = data::encode_npy({3}, values.data());
  std::cout << "scores " << scores.str() << "\ncuda sum " << sum(on_device).item() << "\nnpy "
            << data::parse_npy(bytes.data(), bytes.size(), "values").data[2] << "\nworld "
            << dist::world().name() << "\n";
}
EOF
cat >"$work/src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(melgrad_user C CXX)  # C: melgrad::dist's MPI is found through its C API
# The version file must refuse another minor version (0.x may break the API in any minor
# release) and a later major one; the config must refuse an unknown component.
foreach(other 0.0 999.0)
  find_package(melgrad \${other} QUIET)
  if(melgrad_FOUND)
    message(FATAL_ERROR "find_package(melgrad \${other}) accepted version \${melgrad_VERSION}")
  endif()
endforeach()
find_package(melgrad COMPONENTS no_such_component QUIET)
if(melgrad_FOUND)
  message(FATAL_ERROR "find_package(melgrad COMPONENTS no_such_component) succeeded")
endif()
# Components: models brings the engine, and nothing else is loaded.
find_package(melgrad $version REQUIRED COMPONENTS models)
if(NOT TARGET melgrad::engine OR NOT TARGET melgrad::models OR TARGET melgrad::kernels_emu)
  message(FATAL_ERROR "find_package(melgrad COMPONENTS models) loaded the wrong targets")
endif()
find_package(melgrad $version REQUIRED)
foreach(component engine models datasets kernels cuda dist)  # all installed, all found here
  if(NOT melgrad_\${component}_FOUND)
    message(FATAL_ERROR "find_package(melgrad) left out the component \${component}")
  endif()
endforeach()
message(STATUS "melgrad_DIR: \${melgrad_DIR}")
add_executable(engine_example engine_example.cpp)
target_link_libraries(engine_example PRIVATE melgrad::engine)
add_executable(components_example components_example.cpp)
target_link_libraries(components_example
  PRIVATE melgrad::models melgrad::datasets melgrad::cuda_emu melgrad::dist)
EOF

echo "== find_package(melgrad) in a CMake project"
# Only the prefix may satisfy find_package: no inherited hints, no package registries.
env -u CMAKE_PREFIX_PATH -u melgrad_DIR -u melgrad_ROOT \
  cmake -S "$work/src" -B "$work/cmake-build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
        >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configuring"; }
grep -qF "melgrad_DIR: $prefix/lib/cmake/melgrad" "$work/configure.log" ||
  fail "find_package(melgrad) found another package: $(grep melgrad_DIR "$work/configure.log")"
cmake --build "$work/cmake-build" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; fail "building against the installed package"; }
commands=$(ninja -C "$work/cmake-build" -t commands)
check_outside_trees "a compile or link line" "$commands"
grep -qF -- "-isystem $prefix/include/melgrad" <<<"$commands" ||
  fail "the compile lines do not use $prefix/include/melgrad:\n$commands"
check_engine_from_prefix "$work/cmake-build/engine_example"
check_example_output "$work/cmake-build/engine_example"
components=$("$work/cmake-build/components_example")
expected=$'scores float32[2, 3] cpu\ncuda sum 4\nnpy 3\nworld single process'
[ "$components" == "$expected" ] ||
  fail "components_example printed:\n$components\nexpected:\n$expected"

# ---- 2. pkg-config -----------------------------------------------------------------------
echo "== pkg-config melgrad"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
[ "$(pkg-config --modversion melgrad)" == "$version" ] ||
  fail "melgrad.pc says version $(pkg-config --modversion melgrad), the project $version"
flags=$(pkg-config --cflags --libs melgrad)
check_outside_trees "pkg-config --cflags --libs melgrad" "$flags"
grep -qF -- "-I$prefix/include/melgrad" <<<"$flags" || fail "melgrad.pc's flags: $flags"
# shellcheck disable=SC2086  # the flags are words
"$cxx" -std=c++20 -o "$work/engine_example_pc" "$work/src/engine_example.cpp" $flags \
  -Wl,-rpath,"$(pkg-config --variable=libdir melgrad)" || fail "compiling with pkg-config"
check_engine_from_prefix "$work/engine_example_pc"
check_example_output "$work/engine_example_pc"

# ---- 3. what the package says when something is missing ----------------------------------
echo "== find_package(melgrad COMPONENTS dist datasets), without C and without libhdf5"
# melgrad::datasets links libhdf5 by path (FindHDF5 gives no target): the path is changed in
# this prefix, as on a machine without HDF5; and a C++-only project cannot find MPI's C API.
targets=$prefix/lib/cmake/melgrad/melgrad-datasets-targets.cmake
sed -i 's|/libhdf5\.so;|/libhdf5-removed.so;|' "$targets"
grep -qF libhdf5-removed.so "$targets" || fail "$targets links no libhdf5.so by path"
mkdir -p "$work/missing"
cat >"$work/missing/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(melgrad_user_missing CXX)
find_package(melgrad QUIET COMPONENTS dist datasets)
if(NOT melgrad_FOUND)
  message(STATUS "not found: ${melgrad_NOT_FOUND_MESSAGE}")
endif()
EOF
env -u CMAKE_PREFIX_PATH -u melgrad_DIR -u melgrad_ROOT \
  cmake -S "$work/missing" -B "$work/missing-build" -DCMAKE_CXX_COMPILER="$cxx" \
        -DCMAKE_PREFIX_PATH="$prefix" >"$work/missing.log" 2>&1 ||
  { cat "$work/missing.log"; fail "configuring the project with missing parts"; }
said=$(grep 'not found:' "$work/missing.log") || fail "find_package(melgrad) accepted missing parts"
for expected in "component dist needs the C language" \
                "component datasets needs /" "libhdf5-removed.so (melgrad::datasets)"; do
  grep -qF "$expected" <<<"$said" || fail "find_package(melgrad) does not say '$expected': $said"
done
echo "test_install_package: the installed package builds and runs the README's example"
