// Google Benchmark for kernels/reduce.h: sum, mean and max over the last dimension,
// x: [rows, cols] -> y: [rows], each beside its CPU reference on the same sizes. Shapes
// (rows, cols): 32 x 10 (a loss's classes at batch 32), 64 x 1000 (a warp per row) and, in
// the GPU build only, 256 x 4096 (a block per row; ~0.3 s per emulated launch).
// reduce_middle_dim: sum and max of x: [outer, r, inner] over r -> [outer, inner], beside the
// reference and beside the path the CUDA backend took before it (transpose r last, then
// reduce_last_dim). Shapes (outer, r, inner): 1 x 32 x 300 (a bias gradient, [32, 300] over
// dim 0) and 4 x 50 x 40; GPU only: 1 x 32 x 4096 and 32 x 256 x 128 (sum over time of
// [32, 256, 8 * 16] features).
// B/s counts the reads of x. Each timed iteration is one launch and a synchronisation.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/reduce.h"
#include "kernels/runtime.h"
#include "kernels/transpose.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

void run_reduce(benchmark::State& state, ReduceOp op) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t rows = state.range(0), cols = state.range(1);
  DeviceBuffer<float> dx(random_values(static_cast<std::size_t>(rows * cols), 2)),
      dy(static_cast<std::size_t>(rows));
  for (auto _ : state) {
    reduce_last_dim({dx.data(), dy.data(), rows, cols, op});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * rows * cols * 4);
  state.SetLabel(backend_name());
}

void run_reduce_reference(benchmark::State& state, ReduceOp op) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto x = random_values(static_cast<std::size_t>(rows * cols), 2);
  std::vector<float> y(static_cast<std::size_t>(rows));
  for (auto _ : state) {
    reduce_last_dim_reference({x.data(), y.data(), rows, cols, op});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * rows * cols * 4);
}

void BM_reduce_sum(benchmark::State& s) { run_reduce(s, ReduceOp::sum); }
void BM_reduce_sum_reference(benchmark::State& s) { run_reduce_reference(s, ReduceOp::sum); }
void BM_reduce_mean(benchmark::State& s) { run_reduce(s, ReduceOp::mean); }
void BM_reduce_mean_reference(benchmark::State& s) { run_reduce_reference(s, ReduceOp::mean); }
void BM_reduce_max(benchmark::State& s) { run_reduce(s, ReduceOp::max); }
void BM_reduce_max_reference(benchmark::State& s) { run_reduce_reference(s, ReduceOp::max); }

void row_shapes(benchmark::internal::Benchmark* b) {
  b->Args({32, 10})->Args({64, 1000});
  if (kGpuBuild) b->Args({256, 4096});
  b->Unit(benchmark::kMicrosecond);
}

void run_reduce_middle(benchmark::State& state, ReduceOp op) {
  if (!have_device(state)) return;
  const int64_t outer = state.range(0), r = state.range(1), inner = state.range(2);
  DeviceBuffer<float> dx(random_values(static_cast<std::size_t>(outer * r * inner), 3)),
      dy(static_cast<std::size_t>(outer * inner));
  for (auto _ : state) {
    reduce_middle_dim({dx.data(), dy.data(), outer, r, inner, op});
    device_synchronize();
  }
  finish(state, outer * r * inner * 4);
}

// The backend's former route: transpose each [r, inner] slab to [inner, r], reduce rows.
void run_reduce_middle_via_transpose(benchmark::State& state, ReduceOp op) {
  if (!have_device(state)) return;
  const int64_t outer = state.range(0), r = state.range(1), inner = state.range(2);
  DeviceBuffer<float> dx(random_values(static_cast<std::size_t>(outer * r * inner), 3)),
      dt(static_cast<std::size_t>(outer * r * inner)), dy(static_cast<std::size_t>(outer * inner));
  for (auto _ : state) {
    transpose({dx.data(), dt.data(), outer, r, inner});
    reduce_last_dim({dt.data(), dy.data(), outer * inner, r, op});
    device_synchronize();
  }
  finish(state, outer * r * inner * 4);
}

void run_reduce_middle_reference(benchmark::State& state, ReduceOp op) {
  const int64_t outer = state.range(0), r = state.range(1), inner = state.range(2);
  const auto x = random_values(static_cast<std::size_t>(outer * r * inner), 3);
  std::vector<float> y(static_cast<std::size_t>(outer * inner));
  for (auto _ : state) {
    reduce_middle_dim_reference({x.data(), y.data(), outer, r, inner, op});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * outer * r * inner * 4);
}

void BM_reduce_middle_sum(benchmark::State& s) { run_reduce_middle(s, ReduceOp::sum); }
void BM_reduce_middle_sum_via_transpose(benchmark::State& s) {
  run_reduce_middle_via_transpose(s, ReduceOp::sum);
}
void BM_reduce_middle_sum_reference(benchmark::State& s) {
  run_reduce_middle_reference(s, ReduceOp::sum);
}
void BM_reduce_middle_max(benchmark::State& s) { run_reduce_middle(s, ReduceOp::max); }
void BM_reduce_middle_max_reference(benchmark::State& s) {
  run_reduce_middle_reference(s, ReduceOp::max);
}

void middle_shapes(benchmark::internal::Benchmark* b) {
  b->Args({1, 32, 300})->Args({4, 50, 40});
  if (kGpuBuild) b->Args({1, 32, 4096})->Args({32, 256, 128});
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_reduce_sum)->Apply(row_shapes);
BENCHMARK(BM_reduce_sum_reference)->Apply(row_shapes);
BENCHMARK(BM_reduce_mean)->Apply(row_shapes);
BENCHMARK(BM_reduce_mean_reference)->Apply(row_shapes);
BENCHMARK(BM_reduce_max)->Apply(row_shapes);
BENCHMARK(BM_reduce_max_reference)->Apply(row_shapes);
BENCHMARK(BM_reduce_middle_sum)->Apply(middle_shapes);
BENCHMARK(BM_reduce_middle_sum_via_transpose)->Apply(middle_shapes);
BENCHMARK(BM_reduce_middle_sum_reference)->Apply(middle_shapes);
BENCHMARK(BM_reduce_middle_max)->Apply(middle_shapes);
BENCHMARK(BM_reduce_middle_max_reference)->Apply(middle_shapes);
