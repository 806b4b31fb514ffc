// Google Benchmark for kernels/indexing.cu, each beside its CPU reference on the same sizes:
//   gather / scatter_add with cross-entropy's pattern: x [N, C], index [N, 1] along the class
//     dim (the picked log-probabilities, and gather's backward); args N, C
//   index_select / index_add of rows: x [R, D], index [L] -> y [L, D] (a class-weight lookup
//     at R = 10, D = 1; an embedding-like lookup), and index_select's backward; args R, L, D
//   argmax over classes; args N, C
// Each timed iteration is one launch followed by a device synchronisation.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/bench/bench_util.h"
#include "kernels/indexing.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;
using namespace melgrad::kernels::bench;

namespace {

std::vector<int64_t> classes(std::size_t n, int64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> v(n);
  for (int64_t& k : v) k = static_cast<int64_t>(rng() % static_cast<uint64_t>(count));
  return v;
}

// Cross-entropy's forward pick: gather of [N, 1] from the log-probabilities [N, C].
void BM_gather_classes(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t n = state.range(0), c = state.range(1);
  DeviceBuffer<float> x(random_values(static_cast<std::size_t>(n * c), 1)),
      y(static_cast<std::size_t>(n));
  DeviceBuffer<int64_t> index(classes(static_cast<std::size_t>(n), c, 4));
  for (auto _ : state) {
    gather({x.data(), index.data(), y.data(), n, c, 1, 1});
    device_synchronize();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.SetLabel(backend_name());
}

void BM_gather_classes_reference(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  const auto x = random_values(static_cast<std::size_t>(n * c), 1);
  const auto index = classes(static_cast<std::size_t>(n), c, 4);
  std::vector<float> y(static_cast<std::size_t>(n));
  for (auto _ : state) {
    gather_reference({x.data(), index.data(), y.data(), n, c, 1, 1});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// y [L, D] = x [R, D] rows index[l]; B/s counts the rows read and written.
void BM_index_select_rows(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t r = state.range(0), l = state.range(1), d = state.range(2);
  DeviceBuffer<float> x(random_values(static_cast<std::size_t>(r * d), 1)),
      y(static_cast<std::size_t>(l * d));
  DeviceBuffer<int64_t> index(classes(static_cast<std::size_t>(l), r, 4));
  for (auto _ : state) {
    index_select({x.data(), index.data(), y.data(), 1, r, l, d});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * (2 * l * d * 4 + l * 8));
  state.SetLabel(backend_name());
}

void BM_index_select_rows_reference(benchmark::State& state) {
  const int64_t r = state.range(0), l = state.range(1), d = state.range(2);
  const auto x = random_values(static_cast<std::size_t>(r * d), 1);
  const auto index = classes(static_cast<std::size_t>(l), r, 4);
  std::vector<float> y(static_cast<std::size_t>(l * d));
  for (auto _ : state) {
    index_select_reference({x.data(), index.data(), y.data(), 1, r, l, d});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * (2 * l * d * 4 + l * 8));
}

// index_select's backward: y [R, D] += src [L, D] at rows index[l] (one thread per output
// element walks all L indices: O(R D L) index reads, see kernels/indexing.h).
void BM_index_add_rows(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t r = state.range(0), l = state.range(1), d = state.range(2);
  DeviceBuffer<float> y(static_cast<std::size_t>(r * d)),
      src(random_values(static_cast<std::size_t>(l * d), 3));
  DeviceBuffer<int64_t> index(classes(static_cast<std::size_t>(l), r, 4));
  for (auto _ : state) {
    index_add({y.data(), index.data(), src.data(), 1, r, l, d});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * (2 * r * d * 4 + l * d * 4 + l * 8));
  state.SetLabel(backend_name());
}

void BM_index_add_rows_reference(benchmark::State& state) {
  const int64_t r = state.range(0), l = state.range(1), d = state.range(2);
  std::vector<float> y(static_cast<std::size_t>(r * d));
  const auto src = random_values(static_cast<std::size_t>(l * d), 3);
  const auto index = classes(static_cast<std::size_t>(l), r, 4);
  for (auto _ : state) {
    index_add_reference({y.data(), index.data(), src.data(), 1, r, l, d});
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * (2 * r * d * 4 + l * d * 4 + l * 8));
}

void class_shapes(benchmark::internal::Benchmark* b) {
  b->Args({32, 10})->Args({4096, 10})->Unit(benchmark::kMicrosecond);
}

// (R, L, D): class weights picked per target; a lookup of 1024 rows of 128 from 4096 (GPU
// build only; the emulator runs a 256 x 32 table instead).
void row_shapes(benchmark::internal::Benchmark* b) {
  b->Args({10, 32, 1});
  if (kGpuBuild) {
    b->Args({4096, 1024, 128});
  } else {
    b->Args({256, 64, 32});
  }
  b->Unit(benchmark::kMicrosecond);
}

// Cross-entropy's backward through gather: scatter_add of [N, 1] into [N, C] zeros.
void BM_scatter_add_classes(benchmark::State& state) {
  if (!have_device(state)) return;
  const int64_t n = state.range(0), c = state.range(1);
  DeviceBuffer<float> y(static_cast<std::size_t>(n * c)),
      src(random_values(static_cast<std::size_t>(n), 3));
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
      src = random_values(static_cast<std::size_t>(n), 3);
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
  DeviceBuffer<float> x(random_values(static_cast<std::size_t>(n * c), 5));
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
  const auto x = random_values(static_cast<std::size_t>(n * c), 5);
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
BENCHMARK(BM_gather_classes)->Apply(class_shapes);
BENCHMARK(BM_gather_classes_reference)->Apply(class_shapes);
BENCHMARK(BM_index_select_rows)->Apply(row_shapes);
BENCHMARK(BM_index_select_rows_reference)->Apply(row_shapes);
BENCHMARK(BM_index_add_rows)->Apply(row_shapes);
BENCHMARK(BM_index_add_rows_reference)->Apply(row_shapes);
