// Google Benchmark for the softmax ladder (kernels/ladder/softmax_ladder.h): every rung on
// the same rows, bytes counters (x read once and y written once: the ideal traffic), so
// docs/KERNEL_LADDER.md's second table can be read off one run. Arguments: rung (0-based),
// rows, cols. GPU: 32768 x 1024 (the size where memory bandwidth decides); emulator:
// 256 x 1024, emulated time (the emulator's work, not a GPU's).
// Run: bench_kernels_emu --benchmark_filter=softmax_ladder
#include <benchmark/benchmark.h>

#include <string>

#include "kernels/bench/bench_util.h"
#include "kernels/ladder/softmax_ladder.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

void BM_softmax_ladder(benchmark::State& state) {
  if (!have_device(state)) return;
  const int rung = static_cast<int>(state.range(0));
  const int64_t rows = state.range(1), cols = state.range(2);
  DeviceBuffer<float> x(random_values(static_cast<std::size_t>(rows * cols), 1)),
      y(static_cast<std::size_t>(rows * cols));
  const LadderSoftmaxParams p{rows, cols, x.data(), y.data()};
  ladder_softmax(rung, p);  // warm-up
  device_synchronize();
  for (auto _ : state) {
    ladder_softmax(rung, p);
    device_synchronize();
  }
  finish(state, 2 * rows * cols * static_cast<int64_t>(sizeof(float)));
  state.SetLabel(std::string(backend_name()) + " v" + std::to_string(rung + 1) + " " +
                 ladder_softmax_rungs()[rung].name);
}

void ladder_shapes(benchmark::internal::Benchmark* b) {
  for (int rung = 0; rung < 5; ++rung) b->Args({rung, kGpuBuild ? 32768 : 256, 1024});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_softmax_ladder)->Apply(ladder_shapes);
