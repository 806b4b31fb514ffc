// Dropout with a Philox4x32-10 counter-based mask (see dropout.h). Element i uses lane
// (i mod 4) of the Philox block for counter i / 4 under the call's 64-bit seed; the
// generator is kernels/dropout_philox.h, shared with the CUDA kernel (kernels/dropout.cu),
// so both backends draw the mask bit for bit alike.
#include "engine/ops/dropout.h"

#include <stdexcept>

#include "engine/ops/op_helpers.h"
#include "kernels/dropout_philox.h"

namespace melgrad {

using namespace detail;

namespace {

using kernels::philox4x32_10;
float to_unit(uint32_t r) { return kernels::philox_to_unit(r); }

// The mask in x's dtype: 0 for dropped elements, 1 / (1 - p) for kept ones.
Tensor dropout_mask(const Tensor& x, double p, uint64_t seed) {
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    T* m = mask.data<T>();
    const int64_t n = mask.numel();
    const T keep = T(1.0 / (1.0 - p));
    const float pf = float(p);
    for (int64_t i = 0; i < n; i += 4) {
      const kernels::PhiloxBlock r = philox4x32_10(uint64_t(i) / 4, seed);
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
    {.name = "dropout", .family = "dropout", .devices = {DeviceType::cpu},
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
