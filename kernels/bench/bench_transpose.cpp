// Google Benchmark for transpose and strided_copy (kernels/transpose.h): a square float32
// transpose, the same transpose expressed as a strided copy of a .t() view (dispatched to
// the tiled kernel), a 4-D permute through the generic copy, and the CPU reference.
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/runtime.h"
#include "kernels/transpose.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

void BM_transpose(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t n = state.range(0);
  DeviceBuffer<float> x(std::vector<float>(static_cast<std::size_t>(n * n), 1.0f)),
      y(static_cast<std::size_t>(n * n));
  for (auto _ : state) {
    transpose({x.data(), y.data(), 1, n, n});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * n * 4);
  state.SetLabel(backend_name());
}

void BM_transpose_reference(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> x(static_cast<std::size_t>(n * n), 1.0f), y(x.size());
  for (auto _ : state) {
    transpose_reference({x.data(), y.data(), 1, n, n});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * n * 4);
}

// [a, b, c, d] contiguous read as permute(0, 2, 3, 1) into a contiguous y.
void BM_strided_copy_permute(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t a = 32, b = state.range(0), c = 32, d = 32;
  DeviceBuffer<float> x(std::vector<float>(static_cast<std::size_t>(a * b * c * d), 1.0f)),
      y(static_cast<std::size_t>(a * b * c * d));
  StridedCopyParams p;
  p.x = x.data();
  p.y = y.data();
  p.shape = Shape{a, c, d, b};
  p.x_strides.v[0] = b * c * d;
  p.x_strides.v[1] = d;
  p.x_strides.v[2] = 1;
  p.x_strides.v[3] = c * d;
  p.y_strides = contiguous_strides(p.shape);
  for (auto _ : state) {
    strided_copy(p);
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * 2 * a * b * c * d * 4);
  state.SetLabel(backend_name());
}

}  // namespace

BENCHMARK(BM_transpose)->Arg(256)->Arg(2048)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_transpose_reference)->Arg(256)->Arg(2048)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_strided_copy_permute)->Arg(16)->Arg(128)->Unit(benchmark::kMicrosecond);
