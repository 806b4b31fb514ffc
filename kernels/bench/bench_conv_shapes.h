// The study's CNN layer shapes for the layer benchmarks (bench_conv.cpp, bench_pool.cpp,
// bench_batchnorm.cpp): batch 32, mel spectrograms 128 x T with T = 40 (beat-synced) or
// 1293 (full clips), four 3x3 / padding 1 conv layers, each followed by BatchNorm, ReLU and
// max-pool p:
//   config "c4-p2":  channels [1, 4, 16, 64, 256],  pool 2
//   config "c16-p3": channels [1, 16, 64, 256, 512], pool 3
// Layer i convolves C_i -> C_{i+1} channels at H_i x W_i; H_{i+1} = H_i / p (floor).
// Also the skip rule every layer benchmark shares: they run only on a GPU (the emulator
// would take hours at these sizes) and report an error otherwise; emulator_layer() is the
// exception.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cudnn.h"
#include "kernels/runtime.h"

namespace melgrad::kernels::bench {

struct StudyLayer {
  std::string name;  // e.g. "c4-p2/T1293/L2 4->16 64x646"
  int64_t N, C, H, W, O, pool;
  bool emulator_sized = false;  // small enough for bench_kernels_emu
};

// One small layer that also runs in the emulator build: what a kernel test of this size
// costs in CI (melgrad only).
inline StudyLayer emulator_layer() { return {"small 2x8x12x20->16", 2, 8, 12, 20, 16, 2, true}; }

inline std::vector<StudyLayer> study_layers() {
  struct Config {
    const char* name;
    int64_t channels[5];
    int64_t pool;
  };
  const Config configs[] = {{"c4-p2", {1, 4, 16, 64, 256}, 2},
                            {"c16-p3", {1, 16, 64, 256, 512}, 3}};
  std::vector<StudyLayer> layers;
  for (const Config& c : configs) {
    for (int64_t T : {int64_t{40}, int64_t{1293}}) {
      int64_t H = 128, W = T;
      for (int i = 0; i < 4; ++i) {
        const std::string name = std::string(c.name) + "/T" + std::to_string(T) + "/L" +
                                 std::to_string(i + 1) + " " + std::to_string(c.channels[i]) +
                                 "->" + std::to_string(c.channels[i + 1]) + " " +
                                 std::to_string(H) + "x" + std::to_string(W);
        layers.push_back({name, 32, c.channels[i], H, W, c.channels[i + 1], c.pool});
        H /= c.pool;
        W /= c.pool;
      }
    }
  }
  return layers;
}

inline std::vector<float> bench_inputs(std::size_t n, uint64_t seed, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// False (and the benchmark reports why) unless this is a GPU build with a device (or the
// layer is emulator-sized), and cuDNN is built when `impl` asks for it.
inline bool gpu_ready(benchmark::State& state, DnnImpl impl, const StudyLayer& layer) {
  if (std::strcmp(backend_name(), "emulator") == 0 && !layer.emulator_sized) {
    state.SkipWithError("study-sized layer benchmarks run only on a GPU (bench_kernels_cuda)");
    return false;
  }
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return false;
  }
  if (impl == DnnImpl::cudnn && !cudnn_built()) {
    state.SkipWithError("this build has no cuDNN");
    return false;
  }
  return true;
}

// Times `launch` (one call per iteration, then a device synchronisation) and reports the
// implementation, the FLOP rate (when flops > 0) and the bytes moved per iteration.
template <class F>
void time_launches(benchmark::State& state, DnnImpl impl, double flops, double bytes, F&& launch) {
  launch();  // warm-up: cuDNN's algorithm search, first-touch allocations
  device_synchronize();
  for (auto _ : state) {
    launch();
    device_synchronize();
  }
  if (flops > 0) {
    state.counters["FLOP/s"] =
        benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  }
  state.counters["B/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(dnn_impl_name(impl));
}

}  // namespace melgrad::kernels::bench
