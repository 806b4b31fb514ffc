// Google Benchmark for kernels/tensor_ops.cu (the CUDA backend's small kernels), each beside
// its CPU reference on the same sizes: a transposing copy with dtype conversion and a where
// with a broadcast operand.
// Each timed iteration is one launch followed by a device synchronisation.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/runtime.h"
#include "kernels/tensor_ops.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

// y [r, c] float32 = x^T where x is [c, r] float64: a strided read with conversion.
CopyParams transpose_copy(int64_t r, int64_t c) {
  CopyParams p;
  p.x_type = ElemType::f64;
  p.y_type = ElemType::f32;
  p.shape = Shape{r, c};
  p.x_strides.v[0] = 1;
  p.x_strides.v[1] = r;
  p.y_strides = contiguous_strides(p.shape);
  return p;
}

void BM_transpose_copy(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t r = state.range(0), c = state.range(1);
  DeviceBuffer<double> x(static_cast<std::size_t>(r * c));
  DeviceBuffer<float> y(static_cast<std::size_t>(r * c));
  CopyParams p = transpose_copy(r, c);
  p.x = x.data();
  p.y = y.data();
  for (auto _ : state) {
    strided_copy(p);
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * r * c * 12);
  state.SetLabel(backend_name());
}

void BM_transpose_copy_reference(benchmark::State& state) {
  const int64_t r = state.range(0), c = state.range(1);
  std::vector<double> x(static_cast<std::size_t>(r * c), 1.0);
  std::vector<float> y(x.size());
  CopyParams p = transpose_copy(r, c);
  p.x = x.data();
  p.y = y.data();
  for (auto _ : state) {
    strided_copy_reference(p);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * r * c * 12);
}

WhereParams where_layout(int64_t r, int64_t c) {
  WhereParams p;
  p.shape = Shape{r, c};
  p.cond_strides = p.a_strides = p.y_strides = contiguous_strides(p.shape);
  p.b_strides = broadcast_strides(p.shape, Shape{});
  return p;
}

void BM_where(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t r = state.range(0), c = state.range(1);
  const std::size_t n = static_cast<std::size_t>(r * c);
  DeviceBuffer<float> cond(random_values(n, 1)), a(random_values(n, 2)),
      b(std::vector<float>{0.0f}), y(n);
  WhereParams p = where_layout(r, c);
  p.cond = cond.data();
  p.a = a.data();
  p.b = b.data();
  p.y = y.data();
  for (auto _ : state) {
    where_select(p);
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n) * 12);
  state.SetLabel(backend_name());
}

void BM_where_reference(benchmark::State& state) {
  const int64_t r = state.range(0), c = state.range(1);
  const std::size_t n = static_cast<std::size_t>(r * c);
  const auto cond = random_values(n, 1), a = random_values(n, 2);
  const std::vector<float> b{0.0f};
  std::vector<float> y(n);
  WhereParams p = where_layout(r, c);
  p.cond = cond.data();
  p.a = a.data();
  p.b = b.data();
  p.y = y.data();
  for (auto _ : state) {
    where_select_reference(p);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n) * 12);
}

}  // namespace

BENCHMARK(BM_transpose_copy)->Args({256, 1000})->Args({1024, 4096})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_transpose_copy_reference)
    ->Args({256, 1000})
    ->Args({1024, 4096})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_where)->Args({256, 1000})->Args({1024, 4096})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_where_reference)->Args({256, 1000})->Args({1024, 4096})->Unit(benchmark::kMicrosecond);
