// Google Benchmark for kernels/indexing.cu, each beside its CPU reference on the same sizes:
// scatter_add with cross-entropy's pattern (index [N, 1] along the class dim: gather's
// backward) and argmax over classes. Each timed iteration is one launch followed by a
// device synchronisation.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/indexing.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;

namespace {

std::vector<float> values(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<int64_t> classes(std::size_t n, int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> v(n);
  for (int64_t& k : v) k = static_cast<int64_t>(rng() % static_cast<uint64_t>(count));
  return v;
}

bool have_device(benchmark::State& state) {
  if (device_available()) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

// Cross-entropy's backward through gather: scatter_add of [N, 1] into [N, C] zeros.
void BM_scatter_add_classes(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t n = state.range(0), c = state.range(1);
  DeviceBuffer<float> y(static_cast<std::size_t>(n * c)),
      src(values(static_cast<std::size_t>(n), 3));
  DeviceBuffer<int64_t> index(classes(static_cast<std::size_t>(n), c, 4));
  for (auto _ : state) {
    scatter_add({y.data(), index.data(), src.data(), n, c, 1, 1});
    device_synchronize();
  }
  state.SetItemsProcessed(state.iterations() * n * c);
  state.SetLabel(backend_name());
}

void BM_scatter_add_classes_reference(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  std::vector<float> y(static_cast<std::size_t>(n * c)),
      src = values(static_cast<std::size_t>(n), 3);
  const auto index = classes(static_cast<std::size_t>(n), c, 4);
  for (auto _ : state) {
    scatter_add_reference({y.data(), index.data(), src.data(), n, c, 1, 1});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n * c);
}

void BM_argmax_classes(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t n = state.range(0), c = state.range(1);
  DeviceBuffer<float> x(values(static_cast<std::size_t>(n * c), 5));
  DeviceBuffer<int64_t> y(static_cast<std::size_t>(n));
  for (auto _ : state) {
    argmax({x.data(), y.data(), n, c, 1});
    device_synchronize();
  }
  state.SetItemsProcessed(state.iterations() * n * c);
  state.SetLabel(backend_name());
}

void BM_argmax_classes_reference(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  const auto x = values(static_cast<std::size_t>(n * c), 5);
  std::vector<int64_t> y(static_cast<std::size_t>(n));
  for (auto _ : state) {
    argmax_reference({x.data(), y.data(), n, c, 1});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n * c);
}

}  // namespace

BENCHMARK(BM_scatter_add_classes)->Args({64, 10})->Args({4096, 10})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_scatter_add_classes_reference)
    ->Args({64, 10})
    ->Args({4096, 10})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_argmax_classes)->Args({64, 10})->Args({4096, 10})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_argmax_classes_reference)
    ->Args({64, 10})
    ->Args({4096, 10})
    ->Unit(benchmark::kMicrosecond);
