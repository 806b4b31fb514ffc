// Google Benchmark for the GEMM ladder (kernels/ladder/gemm_ladder.h): every rung on the same
// square shapes, FLOP/s counters (2 m n k per launch), so the table of docs/KERNEL_LADDER.md
// can be read off one run. Argument: the rung (0-based), then m = n = k.
//   GPU (bench_kernels_cuda): 4096 (siboehm's worklog shape) and 1024; cublas is the last rung.
//   emulator (bench_kernels_emu): 128 — emulated time, which measures how much work the
//   emulator does per rung (threads, barriers), not what a GPU would do.
// Run: bench_kernels_emu --benchmark_filter=gemm_ladder
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/ladder/gemm_ladder.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

void BM_gemm_ladder(benchmark::State& state) {
  if (!have_device(state)) return;
  const int rung = static_cast<int>(state.range(0));
  const int64_t size = state.range(1);
  const auto& rungs = ladder_gemm_rungs();
  if (rung >= static_cast<int>(rungs.size())) {
    state.SkipWithError("no such rung in this build");
    return;
  }
  if (!kGpuBuild && rungs[rung].name == "tf32") {
    state.SkipWithError("tensor cores are not emulated");
    return;
  }
  DeviceBuffer<float> a(random_values(size * size, 1)), b(random_values(size * size, 2)),
      c(static_cast<std::size_t>(size * size));
  const LadderGemmParams p{size, size, size, a.data(), b.data(), c.data()};
  ladder_gemm(rung, p);  // warm-up
  device_synchronize();
  for (auto _ : state) {
    ladder_gemm(rung, p);
    device_synchronize();
  }
  state.counters["FLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(size * size * size),
      benchmark::Counter::kIsRate);
  state.SetLabel(std::string(backend_name()) + " v" + std::to_string(rung + 1) + " " +
                 rungs[rung].name);
}

void ladder_shapes(benchmark::internal::Benchmark* b) {
  // The rungs this build has: nine, and cuBLAS after them in a GPU build.
  const int count = static_cast<int>(ladder_gemm_rungs().size());
  for (int rung = 0; rung < count; ++rung) {
    if (kGpuBuild) {
      b->Args({rung, 4096})->Args({rung, 1024});
    } else {
      b->Args({rung, 128});
    }
  }
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_gemm_ladder)->Apply(ladder_shapes);
