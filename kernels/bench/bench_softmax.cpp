// Google Benchmark for kernels/softmax.h: softmax and log-softmax over the last dimension,
// forward and backward, each beside its CPU reference on the same sizes, x, y, dy, dx:
// [rows, cols]. Shapes (rows, cols):
//   32 x 10        the study's cross-entropy: log-softmax over 10 classes at batch 32
//   64 x 1000      a warp per row (cols <= kSoftmaxWarpRowMaxCols)
//   256 x 4096     a block per row; GPU build only (~0.6 s per emulated launch)
// B/s counts the passes over memory: forward reads x and writes y, backward reads y and dy
// and writes dx. Each timed iteration is one launch followed by a device synchronisation.
// No vendor comparison: melgrad links no cuDNN softmax.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/runtime.h"
#include "kernels/softmax.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

// The forward's output for x = random_values(n, 1): what a backward pass gets as y.
std::vector<float> forward_output(int64_t rows, int64_t cols, bool log) {
  const auto x = random_values(static_cast<std::size_t>(rows * cols), 1);
  std::vector<float> y(x.size());
  softmax_forward_reference({x.data(), y.data(), rows, cols, log});
  return y;
}

void run_forward(benchmark::State& state, bool log) {
  if (!have_device(state)) return;
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto x = random_values(static_cast<std::size_t>(rows * cols), 1);
  DeviceBuffer<float> dx(x), dy(x.size());
  for (auto _ : state) {
    softmax_forward({dx.data(), dy.data(), rows, cols, log});
    device_synchronize();
  }
  finish(state, 2 * rows * cols * 4);
}

void run_forward_reference(benchmark::State& state, bool log) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto x = random_values(static_cast<std::size_t>(rows * cols), 1);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    softmax_forward_reference({x.data(), y.data(), rows, cols, log});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * (2 * rows * cols * 4));
}

void run_backward(benchmark::State& state, bool log) {
  if (!have_device(state)) return;
  const int64_t rows = state.range(0), cols = state.range(1);
  DeviceBuffer<float> y(forward_output(rows, cols, log)),
      dy(random_values(static_cast<std::size_t>(rows * cols), 2)),
      dx(static_cast<std::size_t>(rows * cols));
  for (auto _ : state) {
    softmax_backward({y.data(), dy.data(), dx.data(), rows, cols, log});
    device_synchronize();
  }
  finish(state, 3 * rows * cols * 4);
}

void run_backward_reference(benchmark::State& state, bool log) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto y = forward_output(rows, cols, log),
             dy = random_values(static_cast<std::size_t>(rows * cols), 2);
  std::vector<float> dx(y.size());
  for (auto _ : state) {
    softmax_backward_reference({y.data(), dy.data(), dx.data(), rows, cols, log});
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetBytesProcessed(state.iterations() * (3 * rows * cols * 4));
}

void BM_softmax_forward(benchmark::State& s) { run_forward(s, false); }
void BM_softmax_forward_reference(benchmark::State& s) { run_forward_reference(s, false); }
void BM_softmax_backward(benchmark::State& s) { run_backward(s, false); }
void BM_softmax_backward_reference(benchmark::State& s) { run_backward_reference(s, false); }
void BM_log_softmax_forward(benchmark::State& s) { run_forward(s, true); }
void BM_log_softmax_forward_reference(benchmark::State& s) { run_forward_reference(s, true); }
void BM_log_softmax_backward(benchmark::State& s) { run_backward(s, true); }
void BM_log_softmax_backward_reference(benchmark::State& s) { run_backward_reference(s, true); }

void row_shapes(benchmark::internal::Benchmark* b) {
  b->Args({32, 10})->Args({64, 1000});
  if (kGpuBuild) b->Args({256, 4096});
  b->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_softmax_forward)->Apply(row_shapes);
BENCHMARK(BM_softmax_forward_reference)->Apply(row_shapes);
BENCHMARK(BM_softmax_backward)->Apply(row_shapes);
BENCHMARK(BM_softmax_backward_reference)->Apply(row_shapes);
BENCHMARK(BM_log_softmax_forward)->Apply(row_shapes);
BENCHMARK(BM_log_softmax_forward_reference)->Apply(row_shapes);
BENCHMARK(BM_log_softmax_backward)->Apply(row_shapes);
BENCHMARK(BM_log_softmax_backward_reference)->Apply(row_shapes);
