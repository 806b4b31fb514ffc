// Google Benchmark for kernels/: every kernel and its CPU reference, on the same sizes, one
// file per kernel family (this one: elementwise). Built twice: bench_kernels_emu
// (melgrad_kernels_emu: measures the emulator, i.e. what a kernel test costs in CI; CTest
// runs it once as a smoke test) and bench_kernels_cuda (melgrad_kernels_cuda: the GPU; every
// kernel benchmark reports an error when no device is present). Each timed iteration is
// one launch followed by a device synchronisation.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/elementwise.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

// y = relu(a + bias): a [rows, cols] + bias [cols] broadcast, the Linear layer's epilogue.
BinaryParams bias_relu_layout(int64_t rows, int64_t cols) {
  BinaryParams p;
  p.shape = Shape{rows, cols};
  p.a_strides = p.y_strides = contiguous_strides(p.shape);
  p.b_strides = broadcast_strides(p.shape, Shape{cols});
  p.op = BinaryOp::add;
  p.act = UnaryOp::relu;
  return p;
}

void BM_bias_add_relu(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t rows = state.range(0), cols = state.range(1);
  DeviceBuffer<float> a(random_values(static_cast<std::size_t>(rows * cols), 3)),
      b(random_values(static_cast<std::size_t>(cols), 4)), y(static_cast<std::size_t>(rows * cols));
  BinaryParams p = bias_relu_layout(rows, cols);
  p.a = a.data();
  p.b = b.data();
  p.y = y.data();
  for (auto _ : state) {
    elementwise_binary(p);
    device_synchronize();
  }
  finish(state, 2 * rows * cols * 4);
}

void BM_bias_add_relu_reference(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const auto a = random_values(static_cast<std::size_t>(rows * cols), 3),
             b = random_values(static_cast<std::size_t>(cols), 4);
  std::vector<float> y(a.size());
  BinaryParams p = bias_relu_layout(rows, cols);
  p.a = a.data();
  p.b = b.data();
  p.y = y.data();
  for (auto _ : state) {
    elementwise_binary_reference(p);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * (2 * rows * cols * 4));
}

void BM_gelu(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t n = state.range(0);
  DeviceBuffer<float> x(random_values(static_cast<std::size_t>(n), 5)),
      y(static_cast<std::size_t>(n));
  UnaryParams p;
  p.x = x.data();
  p.y = y.data();
  p.shape = Shape{n};
  p.x_strides = p.y_strides = contiguous_strides(p.shape);
  p.op = UnaryOp::gelu;
  for (auto _ : state) {
    elementwise_unary(p);
    device_synchronize();
  }
  finish(state, 2 * n * 4);
}

}  // namespace

BENCHMARK(BM_bias_add_relu)->Args({64, 1000})->Args({256, 4096})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_bias_add_relu_reference)
    ->Args({64, 1000})
    ->Args({256, 4096})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_gelu)->Arg(1 << 16)->Arg(1 << 20)->Unit(benchmark::kMicrosecond);
