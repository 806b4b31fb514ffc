// What the kernel benchmarks share: whether this program runs on a GPU or on the emulator
// (GPU-only cases are study-sized; the emulator runs small ones), seeded inputs, the
// skip when no device is present, and the per-iteration byte count and label.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/runtime.h"

namespace melgrad::kernels::bench {

#if MELGRAD_KERNELS_CUDA
inline constexpr bool kGpuBuild = true;
#else
inline constexpr bool kGpuBuild = false;
#endif

// n floats uniform in [-3, 3) from a fixed seed.
inline std::vector<float> random_values(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// False (and the case marked skipped) when there is no device to run on.
inline bool have_device(benchmark::State& state) {
  if (device_available()) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

// Bytes moved per iteration, and the backend ("cuda" or "emulator") as the label.
inline void finish(benchmark::State& state, int64_t bytes_per_iteration) {
  state.SetBytesProcessed(state.iterations() * bytes_per_iteration);
  state.SetLabel(backend_name());
}

}  // namespace melgrad::kernels::bench
