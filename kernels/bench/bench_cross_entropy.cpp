// Google Benchmark for cross-entropy (kernels/cross_entropy.h): forward (lse + loss) and
// backward on logits [n, c] with class weights, and the CPU reference forward.
// Shapes: the study's genre head (32 x 10), a wide classifier (256 x 1000), 64 x 32000.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/cross_entropy.h"
#include "kernels/runtime.h"

using namespace melgrad::kernels;

namespace {

struct CeInputs {
  std::vector<float> x, w;
  std::vector<int64_t> t;
};

CeInputs ce_inputs(int64_t n, int64_t c) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::uniform_int_distribution<int64_t> cls(0, c - 1);
  CeInputs in;
  in.x.resize(static_cast<std::size_t>(n * c));
  for (float& v : in.x) v = dist(rng);
  in.w.assign(static_cast<std::size_t>(c), 1.5f);
  in.t.resize(static_cast<std::size_t>(n));
  for (int64_t& v : in.t) v = cls(rng);
  return in;
}

void BM_cross_entropy_forward(benchmark::State& state) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = state.range(0), c = state.range(1);
  const CeInputs in = ce_inputs(n, c);
  DeviceBuffer<float> x(in.x), w(in.w), lse(static_cast<std::size_t>(n)), loss(1), wsum(1);
  DeviceBuffer<int64_t> t(in.t);
  for (auto _ : state) {
    cross_entropy_forward(
        {x.data(), t.data(), w.data(), loss.data(), lse.data(), wsum.data(), n, c});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * n * c * 4);
  state.SetLabel(backend_name());
}

void BM_cross_entropy_backward(benchmark::State& state) {
  if (!device_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t n = state.range(0), c = state.range(1);
  const CeInputs in = ce_inputs(n, c);
  DeviceBuffer<float> x(in.x), w(in.w), lse(static_cast<std::size_t>(n)), loss(1), wsum(1),
      g(std::vector<float>{1.0f}), dx(in.x.size());
  DeviceBuffer<int64_t> t(in.t);
  cross_entropy_forward({x.data(), t.data(), w.data(), loss.data(), lse.data(), wsum.data(), n, c});
  for (auto _ : state) {
    cross_entropy_backward(
        {x.data(), t.data(), w.data(), lse.data(), wsum.data(), g.data(), dx.data(), n, c});
    device_synchronize();
  }
  state.SetBytesProcessed(state.iterations() * 2 * n * c * 4);
  state.SetLabel(backend_name());
}

void BM_cross_entropy_forward_reference(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1);
  const CeInputs in = ce_inputs(n, c);
  std::vector<float> lse(static_cast<std::size_t>(n));
  float loss = 0, wsum = 0;
  for (auto _ : state) {
    cross_entropy_forward_reference(
        {in.x.data(), in.t.data(), in.w.data(), &loss, lse.data(), &wsum, n, c});
    benchmark::DoNotOptimize(loss);
  }
  state.SetBytesProcessed(state.iterations() * n * c * 4);
}

void ce_shapes(benchmark::internal::Benchmark* b) {
  b->Args({32, 10})->Args({256, 1000})->Args({64, 32000})->Unit(benchmark::kMicrosecond);
}

}  // namespace

BENCHMARK(BM_cross_entropy_forward)->Apply(ce_shapes);
BENCHMARK(BM_cross_entropy_backward)->Apply(ce_shapes);
BENCHMARK(BM_cross_entropy_forward_reference)->Apply(ce_shapes);
