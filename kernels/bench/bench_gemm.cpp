// Google Benchmark for gemm (kernels/gemm.h): the melgrad SIMT kernel, cuBLAS and the
// melgrad TF32 tensor-core kernel side by side on the same shapes, with FLOP/s counters (2 m n k
// per matrix). Shapes (m, n, k):
//   GPU (bench_kernels_cuda): 4096^3 and 1024^3, and the seed's layers at batch 32:
//     41376 x 800 x 128   BiLSTM input projection, 32 clips x 1293 frames, both directions
//     32 x 400 x 100      one BiLSTM time step (h @ W_hh^T), one direction
//     64 x 41344 x 144    CNN conv 16->64 3x3 as im2col GEMM on a 64 x 646 map (one image)
//   emulator (bench_kernels_emu): small shapes only, to measure what emulated GEMMs cost.
// Arguments: m, n, k, trans_b (0/1). Each timed iteration is a launch and a synchronisation.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/gemm.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

std::vector<float> gemm_inputs(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

GemmParams shape_of(const benchmark::State& state) {
  GemmParams p;
  p.m = state.range(0);
  p.n = state.range(1);
  p.k = state.range(2);
  p.trans_b = state.range(3) != 0;  // B stored [n, k], as a Linear layer's weight
  p.lda = p.k;
  p.ldb = p.trans_b ? p.k : p.n;
  p.ldc = p.n;
  return p;
}

void report(benchmark::State& state, const GemmParams& p) {
  state.counters["FLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(p.m * p.n * p.k),
      benchmark::Counter::kIsRate);
  state.SetLabel(backend_name());
}

void run_device(benchmark::State& state, GemmImpl impl) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  GemmParams p = shape_of(state);
  DeviceBuffer<float> a(gemm_inputs(p.m * p.k, 1)), b(gemm_inputs(p.k * p.n, 2)),
      c(static_cast<std::size_t>(p.m * p.n));
  p.a = a.data();
  p.b = b.data();
  p.c = c.data();
  p.impl = impl;
  gemm(p);  // warm-up: cuBLAS handle creation, module loading
  device_synchronize();
  for (auto _ : state) {
    gemm(p);
    device_synchronize();
  }
  report(state, p);
}

void BM_gemm_melgrad(benchmark::State& state) { run_device(state, GemmImpl::melgrad); }

void BM_gemm_cublas(benchmark::State& state) {
  const std::vector<GemmImpl> impls = available_gemm_impls();
  if (impls.size() < 2) {
    state.SkipWithError("cuBLAS is not in this build (emulator)");
    return;
  }
  run_device(state, GemmImpl::cublas);
}

// TF32 tensor cores (sm_80+): compare with cuBLAS's FP32 path above, or run
// NVIDIA_TF32_OVERRIDE=1 to let cuBLAS use TF32 too.
void BM_gemm_melgrad_tf32(benchmark::State& state) {
  if (!kGpuBuild) {
    state.SkipWithError("tensor cores are not emulated");
    return;
  }
  run_device(state, GemmImpl::melgrad_tf32);
}

void BM_gemm_reference(benchmark::State& state) {
  GemmParams p = shape_of(state);
  const auto a = gemm_inputs(p.m * p.k, 1), b = gemm_inputs(p.k * p.n, 2);
  std::vector<float> c(static_cast<std::size_t>(p.m * p.n));
  p.a = a.data();
  p.b = b.data();
  p.c = c.data();
  for (auto _ : state) {
    gemm_reference(p);
    benchmark::DoNotOptimize(c.data());
  }
  report(state, p);
}

void gpu_shapes(benchmark::internal::Benchmark* b) {
  b->Args({4096, 4096, 4096, 0})->Args({1024, 1024, 1024, 0})->Args({1024, 1024, 1024, 1});
  b->Args({41376, 800, 128, 1})->Args({32, 400, 100, 1})->Args({64, 41344, 144, 0});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void small_shapes(benchmark::internal::Benchmark* b) {
  b->Args({128, 128, 128, 0})->Args({32, 400, 100, 1})->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_gemm_melgrad)->Apply(kGpuBuild ? gpu_shapes : small_shapes);
BENCHMARK(BM_gemm_cublas)->Apply(kGpuBuild ? gpu_shapes : small_shapes);
BENCHMARK(BM_gemm_melgrad_tf32)->Apply(kGpuBuild ? gpu_shapes : small_shapes);
BENCHMARK(BM_gemm_reference)->Apply(small_shapes);
