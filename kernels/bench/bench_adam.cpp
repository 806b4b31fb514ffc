// Google Benchmark for the fused multi-tensor Adam step (kernels/adam.h) and its CPU
// reference: `count` tensors of `size` float32 elements each (param, grad, m, v), e.g. the
// study's CNN has ~20 parameter tensors from 16 to ~1.2M elements.
#include <benchmark/benchmark.h>

#include <vector>

#include "kernels/adam.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;

namespace {

void BM_adam_step(benchmark::State& state) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t count = state.range(0), size = state.range(1);
  std::vector<DeviceBuffer<float>> buffers;
  std::vector<AdamTensor> list;
  const std::vector<float> init(static_cast<std::size_t>(size), 0.01f);
  for (int64_t i = 0; i < 4 * count; ++i) buffers.emplace_back(init);
  for (int64_t i = 0; i < count; ++i) {
    list.push_back({buffers[4 * i].data(), buffers[4 * i + 1].data(), buffers[4 * i + 2].data(),
                    buffers[4 * i + 3].data(), size});
  }
  AdamParams p;
  p.tensors = list.data();
  p.count = count;
  p.weight_decay = 1e-2;
  p.decoupled_weight_decay = true;
  for (auto _ : state) {
    adam_step(p);
    device_synchronize();
    ++p.step;
  }
  state.SetBytesProcessed(state.iterations() * count * size * 7 * 4);  // 4 reads, 3 writes
  state.SetLabel(backend_name());
}

void BM_adam_step_reference(benchmark::State& state) {
  const int64_t count = state.range(0), size = state.range(1);
  std::vector<std::vector<float>> buffers(
      static_cast<std::size_t>(4 * count),
      std::vector<float>(static_cast<std::size_t>(size), 0.01f));
  std::vector<AdamTensor> list;
  for (int64_t i = 0; i < count; ++i) {
    list.push_back({buffers[4 * i].data(), buffers[4 * i + 1].data(), buffers[4 * i + 2].data(),
                    buffers[4 * i + 3].data(), size});
  }
  AdamParams p;
  p.tensors = list.data();
  p.count = count;
  for (auto _ : state) {
    adam_step_reference(p);
    benchmark::DoNotOptimize(buffers[0].data());
    ++p.step;
  }
  state.SetBytesProcessed(state.iterations() * count * size * 7 * 4);
}

}  // namespace

BENCHMARK(BM_adam_step)->Args({20, 1 << 12})->Args({20, 1 << 17})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_adam_step_reference)
    ->Args({20, 1 << 12})
    ->Args({20, 1 << 17})
    ->Unit(benchmark::kMicrosecond);
