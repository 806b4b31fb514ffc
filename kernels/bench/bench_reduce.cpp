// Google Benchmark for kernels/reduce.h: sum, mean and max over the last dimension,
// x: [rows, cols] -> y: [rows], each beside its CPU reference on the same sizes. Shapes
// (rows, cols): 32 x 10 (a loss's classes at batch 32), 64 x 1000 (a warp per row) and, in
// the GPU build only, 256 x 4096 (a block per row; ~0.3 s per emulated launch).
// B/s counts the reads of x. Each timed iteration is one launch and a synchronisation.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/reduce.h"
#include "kernels/runtime.h"

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

}  // namespace

BENCHMARK(BM_reduce_sum)->Apply(row_shapes);
BENCHMARK(BM_reduce_sum_reference)->Apply(row_shapes);
BENCHMARK(BM_reduce_mean)->Apply(row_shapes);
BENCHMARK(BM_reduce_mean_reference)->Apply(row_shapes);
BENCHMARK(BM_reduce_max)->Apply(row_shapes);
BENCHMARK(BM_reduce_max_reference)->Apply(row_shapes);
