// Dropout with a Philox4x32-10 counter-based mask (see dropout.h). Element i uses lane
// (i mod 4) of the Philox block for counter i / 4 under the call's 64-bit seed, so any
// backend that implements philox4x32_10 reproduces the mask bit for bit.
#include "engine/ops/dropout.h"

#include <array>
#include <stdexcept>

#include "engine/ops/op_helpers.h"

namespace melgrad {

using namespace detail;

namespace {

std::array<uint32_t, 4> philox4x32_10(uint64_t counter, uint64_t seed) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}

float to_unit(uint32_t r) { return float(r >> 8) * 0x1.0p-24f; }

// The mask in x's dtype: 0 for dropped elements, 1 / (1 - p) for kept ones.
Tensor dropout_mask(const Tensor& x, double p, uint64_t seed) {
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    T* m = mask.data<T>();
    const int64_t n = mask.numel();
    const T keep = T(1.0 / (1.0 - p));
    const float pf = float(p);
    for (int64_t i = 0; i < n; i += 4) {
      std::array<uint32_t, 4> r = philox4x32_10(uint64_t(i) / 4, seed);
      for (int64_t j = 0; j < 4 && i + j < n; ++j) m[i + j] = to_unit(r[j]) >= pf ? keep : T(0);
    }
  });
  return x.device().is_cpu() ? mask : mask.to(x.device());
}

}  // namespace

float philox_uniform(uint64_t seed, uint64_t index) {
  return to_unit(philox4x32_10(index / 4, seed)[index % 4]);
}

static const OpInfo& kDropout = register_op(
    {.name = "dropout", .family = "dropout", .devices = {DeviceType::cpu, DeviceType::cuda},
     .gradcheck = [](Generator& g) {
       return GradCases{{"p=0.3", {gc_input({4, 5}, g)},
                         [](const TensorList& in) { return dropout_with_seed(in[0], 0.3, 99); }}};
     }});

Tensor dropout_with_seed(const Tensor& x, double p, uint64_t seed) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument("dropout: probability must be in [0, 1), got " + std::to_string(p));
  check_device(kDropout, {x});
  check_floating(kDropout, x);
  if (p == 0) return x;
  Tensor mask = dropout_mask(x, p, seed);
  Tensor out;
  {
    NoGradGuard no_grad;
    out = x * mask;
  }
  return record(kDropout, {x}, out,
                [mask](const TensorList& g) { return TensorList{g[0] * mask}; });
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (!training || p == 0) return x;
  return dropout_with_seed(x, p, gen.next_u64());
}

}  // namespace melgrad
