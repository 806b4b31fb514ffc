// Google Benchmark for im2col / col2im (kernels/im2col.h), 3x3 kernel, padding 1, stride 1,
// on x [n, c, h, w]: a small map (both builds) and, on the GPU, a batch of the study's
// second CNN layer (16 channels on a 64 x 323 map after the first pool, batch 32).
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/im2col.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

ConvGeometry bench_geometry(const benchmark::State& state) {
  ConvGeometry g;
  g.n = state.range(0);
  g.channels = state.range(1);
  g.height = state.range(2);
  g.width = state.range(3);
  g.kernel_h = g.kernel_w = 3;
  g.pad_h = g.pad_w = 1;
  return g;
}

void BM_im2col(benchmark::State& state) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const ConvGeometry g = bench_geometry(state);
  const int64_t x_n = g.n * g.channels * g.height * g.width, col_n = g.n * g.col_rows() * g.col_cols();
  DeviceBuffer<float> x(std::vector<float>(static_cast<std::size_t>(x_n), 1.0f)),
      col(static_cast<std::size_t>(col_n));
  for (auto _ : state) {
    im2col({x.data(), col.data(), g});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * (x_n + col_n) * 4);
  state.SetLabel(backend_name());
}

void BM_col2im(benchmark::State& state) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const ConvGeometry g = bench_geometry(state);
  const int64_t x_n = g.n * g.channels * g.height * g.width, col_n = g.n * g.col_rows() * g.col_cols();
  DeviceBuffer<float> col(std::vector<float>(static_cast<std::size_t>(col_n), 1.0f)),
      x(static_cast<std::size_t>(x_n));
  for (auto _ : state) {
    col2im({col.data(), x.data(), g, false});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * (x_n + col_n) * 4);
  state.SetLabel(backend_name());
}

void BM_im2col_reference(benchmark::State& state) {
  const ConvGeometry g = bench_geometry(state);
  std::vector<float> x(static_cast<std::size_t>(g.n * g.channels * g.height * g.width), 1.0f),
      col(static_cast<std::size_t>(g.n * g.col_rows() * g.col_cols()));
  for (auto _ : state) {
    im2col_reference({x.data(), col.data(), g});
    benchmark::DoNotOptimize(col.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(x.size() + col.size()) * 4);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->Args({2, 16, 32, 64});
  if (kGpuBuild) b->Args({32, 16, 64, 323});
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_im2col)->Apply(shapes);
BENCHMARK(BM_col2im)->Apply(shapes);
BENCHMARK(BM_im2col_reference)->Apply(shapes);
