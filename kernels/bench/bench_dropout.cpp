// Google Benchmark for dropout (kernels/dropout.h): forward writing y and the mask, the
// mask-regenerating backward, and the CPU reference, on n float32 elements.
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/dropout.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;

namespace {

void BM_dropout_forward(benchmark::State& state) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = state.range(0);
  DeviceBuffer<float> x(std::vector<float>(static_cast<std::size_t>(n), 1.0f)),
      y(static_cast<std::size_t>(n)), mask(static_cast<std::size_t>(n));
  uint64_t seed = 1;
  for (auto _ : state) {
    dropout_forward({x.data(), y.data(), mask.data(), n, 0.2, seed++, 0});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * 3 * n * 4);
  state.SetLabel(backend_name());
}

void BM_dropout_backward(benchmark::State& state) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = state.range(0);
  DeviceBuffer<float> dy(std::vector<float>(static_cast<std::size_t>(n), 1.0f)),
      dx(static_cast<std::size_t>(n));
  for (auto _ : state) {
    dropout_backward({dy.data(), dx.data(), n, 0.2, 7, 0});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * 4);
  state.SetLabel(backend_name());
}

void BM_dropout_forward_reference(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> x(static_cast<std::size_t>(n), 1.0f), y(x.size()), mask(x.size());
  uint64_t seed = 1;
  for (auto _ : state) {
    dropout_forward_reference({x.data(), y.data(), mask.data(), n, 0.2, seed++, 0});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * 3 * n * 4);
}

}  // namespace

BENCHMARK(BM_dropout_forward)->Arg(1 << 16)->Arg(1 << 22)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_dropout_backward)->Arg(1 << 16)->Arg(1 << 22)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_dropout_forward_reference)->Arg(1 << 16)->Arg(1 << 22)->Unit(benchmark::kMicrosecond);
