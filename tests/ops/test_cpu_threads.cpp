// The CPU backend splits large elementwise ops, Adam, pooling and BatchNorm over the OpenMP
// threads (engine/cpu/parallel.h and the kernels' thresholds). Splitting must not change a
// single bit: each case here runs once on 1 thread and once on 2 and compares exactly, at
// sizes above the threshold and with lengths that leave ragged chunk and vector tails.
#include <doctest/doctest.h>
#include <omp.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/cpu/parallel.h"
#include "engine/generator.h"
#include "engine/ops/cnn.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"

using namespace melgrad;

namespace {

// f() evaluated with `threads` OpenMP threads (the previous count restored afterwards).
std::vector<float> with_threads(int threads, const std::function<Tensor()>& f) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<float> out;
  try {
    const Tensor t = f().contiguous();
    out.assign(t.data<float>(), t.data<float>() + t.numel());
  } catch (...) {
    omp_set_num_threads(saved);
    throw;
  }
  omp_set_num_threads(saved);
  return out;
}

// Bit-for-bit equality (NaNs included), reporting the first difference.
void check_same_bits(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  REQUIRE(a.size() == b.size());
  size_t first = a.size();
  for (size_t i = 0; i < a.size() && first == a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) first = i;
  CHECK_MESSAGE(first == a.size(), std::string(what), ": 1 and 2 threads differ first at element ",
                first);
}

}  // namespace

TEST_CASE("parallel_range covers [0, n) once, in chunks starting at multiples of 64") {
  for (int64_t n : {int64_t{0}, int64_t{5}, cpu::kParallelElements - 1, cpu::kParallelElements,
                    cpu::kParallelElements * 3 + 17}) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    std::vector<int> hits(static_cast<size_t>(n), 0);
    std::vector<int64_t> starts;
    cpu::parallel_range(n, [&](int64_t lo, int64_t hi) {
#pragma omp critical
      starts.push_back(lo);
      for (int64_t i = lo; i < hi; ++i) ++hits[static_cast<size_t>(i)];
    });
    omp_set_num_threads(saved);
    for (int h : hits) REQUIRE(h == 1);
    for (int64_t s : starts) CHECK(s % 64 == 0);
    if (n >= cpu::kParallelElements) CHECK(starts.size() == 2);  // really split
  }
}

TEST_CASE("elementwise ops give the same bits on 1 and 2 threads") {
  Generator gen(7);
  const int64_t n = cpu::kParallelElements * 2 + 37;  // a ragged last chunk and vector tail
  const Tensor x = Tensor::normal({n}, 0, 2, gen), y = Tensor::normal({n}, 0, 2, gen);
  const Tensor s = Tensor::normal({1}, 0, 1, gen);
  const std::vector<std::pair<const char*, std::function<Tensor()>>> cases = {
      {"exp", [&] { return exp(x); }},           {"tanh", [&] { return tanh(x); }},
      {"sigmoid", [&] { return sigmoid(x); }},   {"relu", [&] { return relu(x); }},
      {"log(|x|)", [&] { return log(abs(x)); }}, {"x * y", [&] { return x * y; }},
      {"x / y", [&] { return x / y; }},          {"x - scalar tensor", [&] { return x - s; }},
      {"x + 0.5", [&] { return x + 0.5; }},
  };
  for (const auto& [name, f] : cases) check_same_bits(with_threads(1, f), with_threads(2, f), name);
}

TEST_CASE("Adam, max-pool and BatchNorm give the same bits on 1 and 2 threads") {
  auto adam_steps = [] {
    Generator gen(3);
    Tensor p = Tensor::normal({cpu::kParallelElements + 101}, 0, 1, gen).requires_grad_();
    optim::Adam adam({p}, optim::AdamOptions{.lr = 1e-2, .weight_decay = 1e-3});
    for (int step = 0; step < 3; ++step) {
      adam.zero_grad();
      sum(pow(p, 3.0)).backward();
      adam.step();
    }
    return p.detach();
  };
  check_same_bits(with_threads(1, adam_steps), with_threads(2, adam_steps), "Adam");

  // Forward and backward of each layer: the input's gradient of sum(layer(x) * w).
  Generator gen(11);
  const Tensor img = Tensor::normal({4, 8, 40, 64}, 0, 1, gen);  // 80K values, above 64K
  const Tensor gamma = Tensor::normal({8}, 1, 0.1, gen), beta = Tensor::normal({8}, 0, 0.1, gen);
  using Layer = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<const char*, Layer>> layers = {
      {"max_pool2d",
       [](const Tensor& x) {
         return max_pool2d(x, {.kernel = {2, 2}});
       }},
      {"batch_norm", [&](const Tensor& x) {
         return batch_norm(x, gamma, beta, nullptr, nullptr, /*training=*/true);
       }}};
  for (const auto& [name, layer] : layers) {
    auto forward = [&] { return layer(img); };
    check_same_bits(with_threads(1, forward), with_threads(2, forward), name);
    auto input_grad = [&] {
      Tensor x = img.detach().clone().requires_grad_();
      Tensor y = layer(x);
      Generator weights(5);
      sum(y * Tensor::normal(y.shape(), 0, 1, weights)).backward();
      return x.grad();
    };
    check_same_bits(with_threads(1, input_grad), with_threads(2, input_grad), name);
  }
}
